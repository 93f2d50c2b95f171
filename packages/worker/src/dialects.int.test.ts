import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import Anthropic from '@anthropic-ai/sdk'
import { type StartedWorker, startWorker } from '@rbee/testing'
import OpenAI from 'openai'

const TOKEN = 'worker-token-0123456789'
/** Greedy sampling. Anthropic's API takes `temperature`; this SDK version's types leave it out. */
const GREEDY: object = { temperature: 0 }
const GET_WEATHER = {
  name: 'get_weather',
  description: 'The weather in a city',
  input_schema: {
    type: 'object' as const,
    // A short, fixed set of answers: even a noise model's call ends well within max_tokens.
    properties: { city: { type: 'string', enum: ['Paris', 'Lyon'] } },
    required: ['city'],
    additionalProperties: false,
  },
}

// One real worker on the tiny model, called with the official clients unchanged: Anthropic's
// (Messages, streaming, count_tokens, errors, its x-api-key header) and OpenAI's Responses API.
describe("a worker speaks Anthropic's Messages API and OpenAI's Responses API", () => {
  let w: StartedWorker
  let anthropic: Anthropic
  let openai: OpenAI
  before(async () => {
    w = await startWorker({ args: ['--ctx-size', '2048', '--api-token', TOKEN] })
    // Anthropic's own header, as Claude Code sends an ANTHROPIC_API_KEY.
    anthropic = new Anthropic({
      baseURL: w.url,
      apiKey: null,
      authToken: null,
      defaultHeaders: { 'x-api-key': TOKEN },
      maxRetries: 0,
    })
    openai = new OpenAI({ baseURL: `${w.url}/v1`, apiKey: TOKEN, maxRetries: 0 })
  })
  after(() => w?.close())

  const hello = [{ role: 'user' as const, content: 'Tell me about bees.' }]

  test('messages whole and streamed, with usage from the worker, and the stop sequence that ended one', async () => {
    const whole = await anthropic.messages.create({
      model: 'tiny',
      max_tokens: 12,
      messages: hello,
      ...GREEDY,
    })
    assert.equal(whole.type, 'message')
    assert.equal(whole.role, 'assistant')
    assert.equal(whole.model, 'tiny')
    const text = whole.content[0]?.type === 'text' ? whole.content[0].text : ''
    assert.ok(text.length > 0)
    assert.ok(
      whole.stop_reason === 'max_tokens' || whole.stop_reason === 'end_turn',
      String(whole.stop_reason),
    )
    assert.ok(
      whole.usage.input_tokens > 5 && whole.usage.output_tokens >= 1 && whole.usage.output_tokens <= 12,
    )

    const stream = anthropic.messages.stream({ model: 'tiny', max_tokens: 12, messages: hello, ...GREEDY })
    const kinds: string[] = []
    for await (const ev of stream) kinds.push(ev.type === 'content_block_delta' ? ev.delta.type : ev.type)
    const streamed = await stream.finalMessage()
    assert.deepEqual(kinds.slice(0, 2), ['message_start', 'content_block_start'])
    assert.ok(kinds.filter((k) => k === 'text_delta').length >= 2, kinds.join(','))
    assert.deepEqual(kinds.slice(-3), ['content_block_stop', 'message_delta', 'message_stop'])
    // Greedy sampling: the same text, streamed or not; input tokens known from message_start on.
    assert.deepEqual(streamed.content, whole.content)
    assert.deepEqual(streamed.usage.input_tokens, whole.usage.input_tokens)

    // A stop sequence cut from that text ends the same generation where it first appears.
    const stop = text.trim().slice(1, 3)
    const cut = await anthropic.messages.create({
      model: 'tiny',
      max_tokens: 12,
      messages: hello,
      stop_sequences: [stop],
      ...GREEDY,
    })
    assert.equal(cut.stop_reason, 'stop_sequence')
    assert.equal(cut.stop_sequence, stop)
    const before = cut.content[0]?.type === 'text' ? cut.content[0].text : ''
    assert.equal(before, text.slice(0, text.indexOf(stop)))
  })

  test("count_tokens counts with the worker's tokenizer and chat template: what a message's input_tokens says", async () => {
    const system = 'You are a bee.'
    const counted = await anthropic.messages.countTokens({ model: 'tiny', system, messages: hello })
    const asked = await anthropic.messages.create({ model: 'tiny', system, max_tokens: 1, messages: hello })
    assert.equal(counted.input_tokens, asked.usage.input_tokens)
    const longer = await anthropic.messages.countTokens({
      model: 'tiny',
      system,
      messages: [...hello, { role: 'assistant', content: 'Bees make honey.' }, ...hello],
    })
    assert.ok(longer.input_tokens > counted.input_tokens + 5)
  })

  test("errors come in Anthropic's shape: a refused field names itself, a wrong key is an authentication error", async () => {
    await assert.rejects(
      anthropic.messages.create({
        model: 'tiny',
        max_tokens: 8,
        messages: [
          { role: 'user', content: [{ type: 'image', source: { type: 'url', url: 'http://x/y.png' } }] },
        ],
      }),
      (err: unknown) => {
        assert.ok(err instanceof Anthropic.BadRequestError, String(err))
        assert.deepEqual(err.error, {
          type: 'error',
          error: {
            type: 'invalid_request_error',
            message:
              'invalid request body: messages.0.content.0.type: image blocks are not supported: rbee workers have no vision',
            code: 'RBEE_VALIDATION',
          },
        })
        return true
      },
    )
    await assert.rejects(
      anthropic.messages.create({
        model: 'tiny',
        max_tokens: 8,
        messages: hello,
        thinking: { type: 'enabled', budget_tokens: 1024 },
      }),
      /thinking\.type: extended thinking is not supported/,
    )
    const stranger = new Anthropic({ baseURL: w.url, apiKey: 'sk-wrong-0123456789', maxRetries: 0 })
    await assert.rejects(
      stranger.messages.countTokens({ model: 'tiny', messages: hello }),
      (err: unknown) => {
        assert.ok(err instanceof Anthropic.AuthenticationError, String(err))
        assert.equal((err.error as { error: { type: string } }).error.type, 'authentication_error')
        return true
      },
    )
  })

  test('responses whole and streamed through the official openai client; server-side state is refused', async () => {
    const whole = await openai.responses.create({
      model: 'tiny',
      instructions: 'Answer briefly.',
      input: 'Tell me about bees.',
      max_output_tokens: 10,
      temperature: 0,
    })
    assert.equal(whole.object, 'response')
    assert.ok(whole.status === 'completed' || whole.status === 'incomplete')
    assert.ok(whole.output_text.length > 0)
    assert.equal((whole as { store?: unknown }).store, false)
    assert.ok(whole.usage!.input_tokens > 5 && whole.usage!.output_tokens <= 10)

    const stream = await openai.responses.create({
      model: 'tiny',
      instructions: 'Answer briefly.',
      input: [{ role: 'user', content: 'Tell me about bees.' }],
      max_output_tokens: 10,
      temperature: 0,
      stream: true,
    })
    let text = ''
    const kinds: string[] = []
    let final: OpenAI.Responses.Response | undefined
    for await (const ev of stream) {
      kinds.push(ev.type)
      if (ev.type === 'response.output_text.delta') text += ev.delta
      if (ev.type === 'response.completed' || ev.type === 'response.incomplete') final = ev.response
    }
    assert.deepEqual(kinds.slice(0, 4), [
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
    ])
    assert.equal(text, whole.output_text)
    assert.equal(final?.status, whole.status)
    assert.equal(final?.usage?.output_tokens, whole.usage?.output_tokens)

    await assert.rejects(
      openai.responses.create({ model: 'tiny', input: 'again', previous_response_id: whole.id }),
      (err: unknown) => {
        assert.ok(err instanceof OpenAI.BadRequestError, String(err))
        assert.equal(err.param, 'previous_response_id')
        assert.match(err.message, /rbee keeps no state between requests/)
        return true
      },
    )
  })

  // Tool calls: the worker's chat tool calling, with the grammar holding arguments to the schema.
  test('a forced tool is a tool_use block whose input fits its schema, whole and streamed', async () => {
    const asked = {
      model: 'tiny',
      max_tokens: 64,
      messages: [{ role: 'user' as const, content: 'What is the weather in Paris?' }],
      tools: [GET_WEATHER],
      tool_choice: { type: 'tool' as const, name: 'get_weather' },
    }
    const whole = await anthropic.messages.create(asked)
    assert.equal(whole.stop_reason, 'tool_use')
    const use = whole.content.find((b) => b.type === 'tool_use')
    assert.ok(use?.type === 'tool_use', JSON.stringify(whole.content))
    assert.equal(use.name, 'get_weather')
    assert.equal(typeof (use.input as { city?: unknown }).city, 'string')

    const stream = anthropic.messages.stream(asked)
    const deltas: string[] = []
    for await (const ev of stream) if (ev.type === 'content_block_delta') deltas.push(ev.delta.type)
    const final = await stream.finalMessage()
    assert.ok(deltas.includes('input_json_delta'), deltas.join(','))
    assert.equal(final.stop_reason, 'tool_use')

    // The call and its result in the history, as a tool loop sends them back.
    const next = await anthropic.messages.create({
      model: 'tiny',
      max_tokens: 8,
      tools: [GET_WEATHER],
      messages: [
        ...asked.messages,
        { role: 'assistant', content: whole.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'Sunny, 24 °C' }] },
      ],
    })
    assert.equal(next.type, 'message')
  })

  test('a required function tool is a function_call item, whole and streamed, and its output is taken back', async () => {
    const tools: OpenAI.Responses.FunctionTool[] = [
      { type: 'function', name: 'get_weather', parameters: GET_WEATHER.input_schema, strict: true },
    ]
    const whole = await openai.responses.create({
      model: 'tiny',
      input: 'What is the weather in Paris?',
      tools,
      tool_choice: 'required',
      max_output_tokens: 64,
    })
    const call = whole.output.find((o) => o.type === 'function_call')
    assert.ok(call?.type === 'function_call', JSON.stringify(whole.output))
    assert.equal(typeof (JSON.parse(call.arguments) as { city?: unknown }).city, 'string')

    const stream = await openai.responses.create({
      model: 'tiny',
      input: 'What is the weather in Paris?',
      tools,
      tool_choice: 'required',
      max_output_tokens: 64,
      stream: true,
    })
    const kinds = new Set<string>()
    for await (const ev of stream) kinds.add(ev.type)
    assert.ok(kinds.has('response.function_call_arguments.delta'), [...kinds].join(','))
    assert.ok(kinds.has('response.function_call_arguments.done'))

    const next = await openai.responses.create({
      model: 'tiny',
      tools,
      max_output_tokens: 8,
      input: [
        { role: 'user', content: 'What is the weather in Paris?' },
        { type: 'function_call', call_id: call.call_id, name: call.name, arguments: call.arguments },
        { type: 'function_call_output', call_id: call.call_id, output: 'Sunny, 24 °C' },
      ],
    })
    assert.equal(next.object, 'response')
  })
})
