import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RbeeError } from '../../errors.js'
import { errorBodyIn } from '../../http/error-handler.js'
import { CODEX_TOOL_SCHEMAS } from '../test-support/agent-tools.js'
import { chatChunk, refusalOf, turnEnd } from '../test-support/fixtures.js'
import { OPENAI_RESPONSES } from './index.js'

const end = turnEnd(10, 4)
const chunk = chatChunk
const refusal = (body: unknown): string => refusalOf((b) => OPENAI_RESPONSES.read(b), body)

test('a Responses request becomes a chat request: instructions, messages, function calls and their outputs', () => {
  const req = OPENAI_RESPONSES.read({
    model: 'tiny',
    instructions: 'be brief',
    input: [
      { role: 'user', content: 'weather?' },
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'checking' }] },
      { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
      { type: 'function_call_output', call_id: 'call_1', output: 'sunny' },
    ],
    tools: [{ type: 'function', name: 'get_weather', parameters: { type: 'object' }, strict: true }],
    tool_choice: { type: 'function', name: 'get_weather' },
    max_output_tokens: 20,
    store: false,
  })
  assert.deepEqual(req.chat, {
    model: 'tiny',
    messages: [
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'weather?' },
      {
        role: 'assistant',
        content: 'checking',
        tool_calls: [
          {
            id: 'call_1',
            type: 'function',
            function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
          },
        ],
      },
      { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
    ],
    max_completion_tokens: 20,
    tools: [
      {
        type: 'function',
        function: {
          name: 'get_weather',
          // The schema in its normal form (see json-schema-subset.ts).
          parameters: { type: 'object', properties: {}, additionalProperties: true },
          strict: true,
        },
      },
    ],
    tool_choice: { type: 'function', function: { name: 'get_weather' } },
    stream: false,
  })
  const formatted = OPENAI_RESPONSES.read({
    model: 'tiny',
    input: 'weather?',
    text: { format: { type: 'json_schema', name: 'w', schema: { type: 'object' } } },
  }).chat
  assert.equal(formatted.response_format?.type, 'json_schema')
  // A grammar for the answer and tools the model may call cannot go together: named as sent.
  assert.match(
    refusal({
      model: 'tiny',
      input: 'x',
      tools: [{ type: 'function', name: 'f' }],
      text: { format: { type: 'json_object' } },
    }),
    /text\.format: json_object cannot be combined with tools/,
  )
})

test('what Codex sends is taken: no reasoning to run or summarize, no encrypted reasoning to include, its ids', () => {
  const req = OPENAI_RESPONSES.read({
    model: 'tiny',
    stream: true,
    input: [{ type: 'message', role: 'developer', content: [{ type: 'input_text', text: 'rules' }] }],
    tools: [{ type: 'function', name: 'exec_command', parameters: { type: 'object' }, strict: false }],
    tool_choice: 'auto',
    parallel_tool_calls: true,
    reasoning: { summary: 'auto' },
    store: false,
    include: ['reasoning.encrypted_content'],
    prompt_cache_key: 'thread-1',
    client_metadata: { thread_id: 'thread-1' },
  })
  assert.deepEqual(req.chat.messages, [{ role: 'developer', content: 'rules' }])
  assert.match(
    refusal({ ...req.request, tools: [{ type: 'web_search' }] }),
    /tools\.0\.type: built-in tools are not supported/,
  )
})

test('every tool Codex declares is taken, and an MCP tool it forwards with bounds and a uri format', () => {
  const tools = Object.entries(CODEX_TOOL_SCHEMAS).map(([name, parameters]) => ({
    type: 'function',
    name,
    parameters,
    strict: false,
  }))
  const chat = OPENAI_RESPONSES.read({ model: 'tiny', input: 'hi', tools }).chat
  assert.deepEqual(
    chat.tools?.map((t) => t.function.name),
    Object.keys(CODEX_TOOL_SCHEMAS),
  )
  const fetch = chat.tools?.find((t) => t.function.name === 'fetch__fetch')?.function.parameters as {
    properties: Record<string, unknown>
  }
  assert.deepEqual(fetch.properties.max_length, {
    type: 'integer',
    exclusiveMinimum: 0,
    exclusiveMaximum: 1000000,
  })
})

test('state on the server is refused with a 400 that says rbee keeps none; so is what a worker cannot honour', () => {
  const base = { model: 'tiny', input: 'hi' }
  assert.match(
    refusal({ ...base, previous_response_id: 'resp_1' }),
    /previous_response_id: rbee keeps no state/,
  )
  assert.match(refusal({ ...base, store: true }), /store: rbee keeps no state/)
  assert.match(refusal({ ...base, conversation: 'conv_1' }), /conversation: rbee keeps no state/)
  assert.match(
    refusal({ ...base, reasoning: { effort: 'low' } }),
    /reasoning\.effort: reasoning is not supported/,
  )
  assert.match(
    refusal({ ...base, include: ['message.output_text.logprobs'] }),
    /include\.0: rbee has no such output/,
  )
  assert.match(
    refusal({ ...base, tools: [{ type: 'web_search' }] }),
    /tools\.0\.type: built-in tools are not supported/,
  )
  assert.match(
    refusal({ ...base, input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'x' }] }] }),
    /input\.0\.content\.0\.type: image input is not supported/,
  )
  assert.match(
    refusal({ ...base, input: [{ type: 'item_reference', id: 'x' }] }),
    /input\.0\.type: item references/,
  )
  assert.match(refusal({ ...base, seed: 1 }), /seed: Unrecognized key/)
})

test('a streamed turn is Responses events with sequence numbers, its final event named in its last bytes', () => {
  const req = OPENAI_RESPONSES.read({ model: 'tiny', input: 'hi', stream: true })
  const s = OPENAI_RESPONSES.stream(req.request)
  const events = [
    ...s.start({ promptTokens: 10 }),
    ...s.chunk(chunk({ role: 'assistant', content: '' })),
    ...s.chunk(chunk({ content: 'Hel' })),
    ...s.chunk(chunk({ content: 'lo' })),
    ...s.chunk(chunk({ tool_calls: [{ index: 0, id: 'call_1', function: { name: 'f', arguments: '{}' } }] })),
    ...s.chunk(chunk({}, 'tool_calls')),
    ...s.end(end),
  ]
  assert.deepEqual(
    events.map((e) => e.event),
    [
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ],
  )
  assert.deepEqual(
    events.map((e) => (e.data as { sequence_number: number }).sequence_number),
    events.map((_, i) => i),
  )
  const done = events.at(-1)!.data as { response: { output: unknown[]; usage: unknown; status: string } }
  assert.equal(done.response.status, 'completed')
  assert.deepEqual(done.response.output[1], {
    type: 'function_call',
    id: (done.response.output[1] as { id: string }).id,
    status: 'completed',
    call_id: 'call_1',
    name: 'f',
    arguments: '{}',
  })
  assert.deepEqual(done.response.usage, {
    input_tokens: 10,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: 4,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: 14,
  })
  assert.ok(JSON.stringify(done).endsWith('"type":"response.completed"}'))
  assert.ok(OPENAI_RESPONSES.protocol.endMarks.some((m) => JSON.stringify(done).endsWith(m)))
})

test('an answer cut short by max_output_tokens is incomplete, streamed or whole', () => {
  const req = OPENAI_RESPONSES.read({ model: 'tiny', input: 'hi', max_output_tokens: 4 })
  const s = OPENAI_RESPONSES.stream(req.request)
  s.start({ promptTokens: 10 })
  s.chunk(chunk({ content: 'abcd' }))
  s.chunk(chunk({}, 'length'))
  const last = s.end(end).at(-1)!
  assert.equal(last.event, 'response.incomplete')
  const whole = OPENAI_RESPONSES.whole(
    req.request,
    {
      id: 'c',
      object: 'chat.completion',
      created: 0,
      model: 'tiny',
      choices: [{ index: 0, message: { role: 'assistant', content: 'abcd' }, finish_reason: 'length' }],
      usage: { prompt_tokens: 10, completion_tokens: 4, total_tokens: 14 },
    },
    end,
  ) as { status: string; incomplete_details: unknown; output: Array<{ status: string }> }
  assert.equal(whole.status, 'incomplete')
  assert.deepEqual(whole.incomplete_details, { reason: 'max_output_tokens' })
  assert.equal(whole.output[0]?.status, 'incomplete')
})

test('an error names the Responses parameter, not the chat field it became', () => {
  const e = new RbeeError(
    'RBEE_VALIDATION',
    'invalid request body: max_completion_tokens: 99999 is more than 2048',
    {
      details: { issues: [{ path: 'max_completion_tokens', message: 'must be <= 2048' }] },
    },
  )
  const body = errorBodyIn(OPENAI_RESPONSES.errorShape, e) as { error: { param: string; message: string } }
  assert.equal(body.error.param, 'max_output_tokens')
  assert.equal(body.error.message, 'invalid request body: max_output_tokens: 99999 is more than 2048')
})
