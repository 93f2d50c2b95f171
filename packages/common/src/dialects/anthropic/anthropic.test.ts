import assert from 'node:assert/strict'
import { test } from 'node:test'
import { AnthropicStreamEventSchema } from '@rbee/contracts'
import { RbeeError } from '../../errors.js'
import { CLAUDE_CODE_TOOL_SCHEMAS } from '../test-support/agent-tools.js'
import { chatChunk, refusalOf, turnEnd } from '../test-support/fixtures.js'
import { ANTHROPIC_MESSAGES, readAnthropicCountTokens } from './index.js'

const end = turnEnd(12, 5)
const chunk = chatChunk
const refusal = (body: unknown): string => refusalOf((b) => ANTHROPIC_MESSAGES.read(b), body)
const base = { model: 'tiny', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }

test('a Messages request becomes a chat request: system, text blocks, tool_use and tool_result in order', () => {
  const req = ANTHROPIC_MESSAGES.read({
    ...base,
    system: [{ type: 'text', text: 'be brief', cache_control: { type: 'ephemeral' } }],
    messages: [
      { role: 'user', content: [{ type: 'text', text: 'weather?' }] },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'checking' },
          { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'and now?' },
          { type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny', is_error: true },
        ],
      },
    ],
    tools: [{ name: 'get_weather', description: 'the weather', input_schema: { type: 'object' } }],
    tool_choice: { type: 'tool', name: 'get_weather', disable_parallel_tool_use: true },
    stop_sequences: ['END'],
    temperature: 0.5,
    top_k: 7,
    metadata: { user_id: 'u-1' },
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
            id: 'toolu_1',
            type: 'function',
            function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
          },
        ],
      },
      // A tool message right after the calls, as a chat history wants it; then the user's text.
      { role: 'tool', tool_call_id: 'toolu_1', content: 'Error: sunny' },
      { role: 'user', content: 'and now?' },
    ],
    tools: [
      {
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'the weather',
          // The schema in its normal form (see json-schema-subset.ts).
          parameters: { type: 'object', properties: {}, additionalProperties: true },
        },
      },
    ],
    tool_choice: { type: 'function', function: { name: 'get_weather' } },
    parallel_tool_calls: false,
    max_tokens: 16,
    stop: ['END'],
    temperature: 0.5,
    top_k: 7,
    stream: false,
  })
  const tools = [{ name: 'f', input_schema: { type: 'object' } }]
  assert.equal(
    ANTHROPIC_MESSAGES.read({ ...base, tools, tool_choice: { type: 'any' } }).chat.tool_choice,
    'required',
  )
  assert.match(
    refusal({ ...base, tool_choice: { type: 'any' } }),
    /tool_choice: asks for a tool call, and no tool is loaded/,
  )
  // A named tool with no tools at all is refused too, not dropped.
  assert.match(
    refusal({ ...base, tool_choice: { type: 'tool', name: 'f' } }),
    /tool_choice\.name: no tool named f/,
  )
})

test('what Claude Code sends is taken: adaptive thinking (none runs), clearing thinking, default effort, deferred tools left out', () => {
  const req = ANTHROPIC_MESSAGES.read({
    ...base,
    messages: [
      ...base.messages,
      { role: 'system', content: [{ type: 'text', text: 'now', cache_control: { type: 'ephemeral' } }] },
    ],
    thinking: { type: 'adaptive', display: 'omitted' },
    context_management: { edits: [{ type: 'clear_thinking_20251015', keep: 'all' }] },
    output_config: { effort: 'high' },
    metadata: { user_id: '{"device_id":"d","session_id":"s"}' },
    tools: [
      { name: 'Bash', input_schema: { type: 'object' } },
      { name: 'DeferredToolPlaceholder', input_schema: { type: 'object' }, defer_loading: true },
    ],
  })
  const chat = req.chat
  assert.deepEqual(
    chat.tools?.map((t) => t.function.name),
    ['Bash'],
  )
  assert.deepEqual(chat.messages.at(-1), { role: 'system', content: 'now' })
  assert.match(
    refusal({
      ...base,
      tools: [{ name: 'x', input_schema: { type: 'object' }, defer_loading: true }],
      tool_choice: { type: 'tool', name: 'x' },
    }),
    /tool_choice\.name: no tool named x is loaded/,
  )
})

test('every tool Claude Code declares is taken, bounds, pattern and uri format kept for the worker', () => {
  const tools = Object.entries(CLAUDE_CODE_TOOL_SCHEMAS).map(([name, input_schema]) => ({
    name,
    input_schema,
  }))
  const chat = ANTHROPIC_MESSAGES.read({ ...base, tools }).chat
  assert.deepEqual(
    chat.tools?.map((t) => t.function.name),
    Object.keys(CLAUDE_CODE_TOOL_SCHEMAS),
  )
  const params = (name: string) => chat.tools?.find((t) => t.function.name === name)?.function.parameters
  assert.deepEqual((params('TaskOutput') as { properties: unknown }).properties, {
    task_id: { type: 'string' },
    block: { type: 'boolean' },
    timeout: { type: 'number', minimum: 0, maximum: 600000 },
  })
  assert.deepEqual((params('WebFetch') as { properties: { url: unknown } }).properties.url, {
    type: 'string',
    format: 'uri',
  })
})

test('what a worker cannot honour is a 400 naming the field, with the reason', () => {
  assert.match(
    refusal({ ...base, messages: [{ role: 'user', content: [{ type: 'image', source: {} }] }] }),
    /messages\.0\.content\.0\.type: image blocks are not supported/,
  )
  assert.match(
    refusal({ ...base, thinking: { type: 'enabled', budget_tokens: 1024 } }),
    /thinking\.type: extended thinking/,
  )
  assert.match(refusal({ ...base, output_config: { effort: 'low' } }), /output_config\.effort: only "high"/)
  assert.match(
    refusal({ ...base, context_management: { edits: [{ type: 'clear_tool_uses_20250919' }] } }),
    /context_management\.edits\.0\.type: only clear_thinking edits/,
  )
  assert.match(refusal({ ...base, service_tier: 'auto' }), /service_tier: Unrecognized key/)
  assert.match(refusal({ ...base, max_tokens: undefined }), /max_tokens: /)
  assert.match(refusal({ ...base, temperature: 1.5 }), /temperature: Too big/)
  assert.match(
    refusal({
      ...base,
      tools: [{ type: 'web_search_20250305', name: 'web_search', input_schema: { type: 'object' } }],
    }),
    /tools\.0\.type: only custom tools are supported/,
  )
  assert.match(
    refusal({
      ...base,
      messages: [{ role: 'assistant', content: [{ type: 'tool_result', tool_use_id: 'x' }] }],
    }),
    /messages\.0\.content\.0: tool_result blocks belong in user messages/,
  )
  assert.match(
    refusal({
      ...base,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'x', citations: [{}] }] }],
    }),
    /messages\.0\.content\.0\.citations: citations are not supported/,
  )
  // The same rules for count_tokens, which takes no max_tokens.
  assert.throws(() => readAnthropicCountTokens({ ...base }), /max_tokens: Unrecognized key/)
  assert.deepEqual(
    readAnthropicCountTokens({ model: 'tiny', messages: base.messages, thinking: { type: 'disabled' } }),
    { model: 'tiny', messages: base.messages },
  )
})

test('a streamed turn with text then a tool call is Anthropic events: blocks opened and closed, stop reason tool_use', () => {
  const req = ANTHROPIC_MESSAGES.read({ ...base, stream: true })
  const s = ANTHROPIC_MESSAGES.stream(req.request)
  const events = [
    ...s.start({ promptTokens: 12 }),
    ...s.chunk(chunk({ role: 'assistant', content: '' })),
    ...s.chunk(chunk({ content: 'Let me ' })),
    ...s.chunk(chunk({ content: 'check.' })),
    ...s.chunk(
      chunk({
        tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'f', arguments: '' } }],
      }),
    ),
    ...s.chunk(chunk({ tool_calls: [{ index: 0, function: { arguments: '{"a":' } }] })),
    ...s.chunk(chunk({ tool_calls: [{ index: 0, function: { arguments: '1}' } }] })),
    ...s.chunk(chunk({}, 'tool_calls')),
    ...s.end(end),
  ]
  for (const e of events) assert.equal(AnthropicStreamEventSchema.parse(e.data).type, e.event)
  assert.deepEqual(
    events.map((e) => e.event),
    [
      'message_start',
      'ping',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ],
  )
  assert.deepEqual(events[6]?.data, {
    type: 'content_block_start',
    index: 1,
    content_block: { type: 'tool_use', id: 'call_1', name: 'f', input: {} },
  })
  assert.deepEqual(events[8]?.data, {
    type: 'content_block_delta',
    index: 1,
    delta: { type: 'input_json_delta', partial_json: '1}' },
  })
  assert.deepEqual(events[10]?.data, {
    type: 'message_delta',
    delta: { stop_reason: 'tool_use', stop_sequence: null },
    usage: { input_tokens: 12, output_tokens: 5 },
    timings: end.timings,
  })
})

test('a whole answer names the stop sequence that ended it; tool calls become tool_use blocks', () => {
  const req = ANTHROPIC_MESSAGES.read(base)
  const completion = {
    id: 'c',
    object: 'chat.completion' as const,
    created: 0,
    model: 'tiny',
    usage: { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 },
  }
  const text = ANTHROPIC_MESSAGES.whole(
    req.request,
    {
      ...completion,
      choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
    },
    { ...end, stopSequence: 'END' },
  )
  assert.deepEqual(
    { ...(text as object), id: 'x' },
    {
      id: 'x',
      type: 'message',
      role: 'assistant',
      model: 'tiny',
      content: [{ type: 'text', text: 'hi' }],
      stop_reason: 'stop_sequence',
      stop_sequence: 'END',
      usage: { input_tokens: 12, output_tokens: 5 },
      timings: end.timings,
    },
  )
  const call = ANTHROPIC_MESSAGES.whole(
    req.request,
    {
      ...completion,
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 'call_9', type: 'function', function: { name: 'f', arguments: '{"x":[1]}' } }],
          },
          finish_reason: 'tool_calls',
        },
      ],
    },
    end,
  ) as { content: unknown; stop_reason: string }
  assert.deepEqual(call.content, [{ type: 'tool_use', id: 'call_9', name: 'f', input: { x: [1] } }])
  assert.equal(call.stop_reason, 'tool_use')
})

test('the relay protocol holds frames before output, reads an early error, and closes a cut stream in Anthropic shape', () => {
  const p = ANTHROPIC_MESSAGES.protocol
  assert.equal(p.classify('event: message_start\ndata: {"type":"message_start"}'), 'hold')
  assert.equal(p.classify('event: ping\ndata: {"type":"ping"}'), 'hold')
  assert.equal(p.classify('event: content_block_delta\ndata: {}'), 'output')
  assert.deepEqual(
    p.classify('event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"busy"}}'),
    { error: 'busy', code: undefined },
  )
  assert.equal(
    p.errorFrame(new RbeeError('RBEE_WORKER_FAILED', 'gone')),
    'event: error\ndata: {"type":"error","error":{"type":"api_error","message":"gone","code":"RBEE_WORKER_FAILED"}}\n\n',
  )
  assert.equal(p.wholeTokens({ usage: { input_tokens: 3, output_tokens: 9 } }), 9)
})
