import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { OllamaChatResponseSchema, OllamaGenerateResponseSchema } from '@rbee/contracts'
import { ollamaChatText, ollamaRefusal, type StartedWorker, schemaErrors, startWorker } from '@rbee/testing'
import { type ChatResponse, type Message, Ollama, type Tool } from 'ollama'

const hello: Message[] = [{ role: 'user', content: 'Tell me about bees.' }]
const WEATHER = {
  type: 'object',
  // A short, fixed set of answers: even a noise model's call ends well within num_predict.
  properties: { city: { type: 'string', enum: ['Paris', 'Lyon'] } },
  required: ['city'],
  additionalProperties: false,
}
const TOOLS: Tool[] = [{ type: 'function', function: { name: 'get_weather', parameters: WEATHER } }]
const EVENT = {
  type: 'object',
  properties: { name: { type: 'string', maxLength: 8 }, day: { type: 'integer' } },
  required: ['name', 'day'],
  additionalProperties: false,
}

// One real worker on the tiny model, called with the official `ollama` client unchanged (and raw
// fetch where the wire itself is the point).
describe("a worker speaks Ollama's /api/chat and /api/generate", () => {
  let w: StartedWorker
  let ollama: Ollama
  before(async () => {
    w = await startWorker({ args: ['--ctx-size', '2048'] })
    ollama = new Ollama({ host: w.url })
  })
  after(() => w?.close())

  test('chat streams NDJSON lines as Ollama does and answers whole the same text; num_predict bounds eval_count', async () => {
    const res = await fetch(`${w.url}/api/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      // No `stream`: Ollama's API streams by default.
      body: JSON.stringify({ model: 'tiny', messages: hello, options: { num_predict: 6, temperature: 0 } }),
    })
    assert.equal(res.status, 200)
    assert.match(String(res.headers.get('content-type')), /^application\/x-ndjson/)
    const lines = (await res.text())
      .trimEnd()
      .split('\n')
      .map((l) => OllamaChatResponseSchema.parse(JSON.parse(l)))
    const last = lines.at(-1)!
    assert.ok(lines.slice(0, -1).every((l) => !l.done && l.message.content !== ''))
    assert.equal(last.done, true)
    assert.equal(last.done_reason, 'length')
    assert.equal(last.eval_count, 6)
    assert.equal(lines.length - 1, 6, 'a line per generated piece')
    assert.ok(
      last.prompt_eval_count! > 5 && last.eval_duration! > 0 && last.total_duration! >= last.eval_duration!,
    )
    const streamed = lines.map((l) => l.message.content).join('')

    const whole = await ollama.chat({
      model: 'tiny',
      messages: hello,
      options: { num_predict: 6, temperature: 0 },
    })
    assert.equal(whole.message.content, streamed, 'greedy: the same text, streamed or not')
    assert.equal(whole.done_reason, 'length')
    assert.equal(whole.eval_count, 6)

    // A seed repeats a sampled answer.
    const sampled = { model: 'tiny', messages: hello, options: { num_predict: 12, temperature: 1, seed: 42 } }
    const [a, b] = [await ollama.chat(sampled), await ollama.chat(sampled)]
    assert.equal(a.message.content, b.message.content)
  })

  test('generate streamed and whole; system is honoured; an empty prompt is the load call', async () => {
    let text = ''
    let done: unknown
    for await (const part of await ollama.generate({
      model: 'tiny',
      prompt: 'Bees',
      stream: true,
      options: { num_predict: 5, temperature: 0 },
    })) {
      OllamaGenerateResponseSchema.parse(part)
      if (part.done) done = part
      else text += part.response
    }
    const whole = await ollama.generate({
      model: 'tiny',
      prompt: 'Bees',
      options: { num_predict: 5, temperature: 0 },
    })
    assert.equal(whole.response, text)
    assert.equal((done as { eval_count: number }).eval_count, whole.eval_count)
    const system = await ollama.generate({
      model: 'tiny',
      prompt: 'Bees',
      system: 'You are a bee keeper who answers briefly.',
      options: { num_predict: 1 },
    })
    assert.ok(system.prompt_eval_count > whole.prompt_eval_count + 5, 'the system prompt is in the prompt')
    const load = await ollama.generate({ model: 'tiny', prompt: '' })
    assert.deepEqual([load.done, load.done_reason, load.response], [true, 'load', ''])
    const chatLoad = await ollama.chat({ model: 'tiny', messages: [] })
    assert.deepEqual([chatLoad.done, chatLoad.done_reason], [true, 'load'])
  })

  test('format "json" and a JSON schema: the answer parses and validates, streamed or not', async () => {
    const json = await ollama.chat({ model: 'tiny', messages: hello, format: 'json', options: { seed: 3 } })
    const value: unknown = JSON.parse(json.message.content)
    assert.ok(typeof value === 'object' && value !== null && !Array.isArray(value), json.message.content)
    const event = await ollama.generate({
      model: 'tiny',
      prompt: 'An event?',
      format: EVENT,
      options: { seed: 4 },
    })
    assert.deepEqual(schemaErrors(EVENT, JSON.parse(event.response ?? '')), [], event.response)
    const streamed = await ollamaChatText(
      await ollama.chat({
        model: 'tiny',
        messages: hello,
        format: EVENT,
        stream: true,
        options: { seed: 5 },
      }),
    )
    assert.deepEqual(schemaErrors(EVENT, JSON.parse(streamed)), [], streamed)
  })

  test('tools: a required call is message.tool_calls with object arguments, streamed or not; its result goes back', async () => {
    const asked = {
      model: 'tiny',
      messages: [{ role: 'user', content: 'What is the weather in Paris?' }],
      tools: TOOLS,
      options: { num_predict: 64 },
      // rbee's addition: Ollama's model always chooses, and a noise model never calls on its own.
      ...{ tool_choice: { type: 'function', function: { name: 'get_weather' } } },
    }
    const whole = await ollama.chat(asked)
    const call = whole.message.tool_calls?.[0]
    assert.ok(call, JSON.stringify(whole.message))
    assert.equal(call.function.name, 'get_weather')
    assert.deepEqual(schemaErrors(WEATHER, call.function.arguments), [])
    assert.equal(whole.done_reason, 'stop')

    const parts: ChatResponse[] = []
    for await (const part of await ollama.chat({ ...asked, stream: true })) parts.push(part)
    const withCalls = parts.filter((p) => (p.message.tool_calls?.length ?? 0) > 0)
    assert.equal(withCalls.length, 1, 'the calls come whole, in one line')
    assert.deepEqual(schemaErrors(WEATHER, withCalls[0]!.message.tool_calls![0]!.function.arguments), [])

    // The call and its result in the history, as Ollama's clients send them back (no ids).
    const next = await ollama.chat({
      model: 'tiny',
      tools: TOOLS,
      options: { num_predict: 4 },
      messages: [
        ...asked.messages,
        { role: 'assistant', content: '', tool_calls: [{ function: call.function }] },
        { role: 'tool', content: 'Sunny, 24 °C', tool_name: 'get_weather' },
      ],
    })
    assert.ok(next.prompt_eval_count > whole.prompt_eval_count, 'the call and its result are in the prompt')
    const orphan = await ollamaRefusal(
      ollama.chat({ model: 'tiny', messages: [...hello, { role: 'tool', content: 'Sunny' }] }),
    )
    assert.deepEqual(orphan, {
      status: 400,
      message: 'invalid request body: messages.1: a tool result with no unanswered tool call before it',
    })
  })

  test("what a worker cannot honour is a 400 naming the field, in Ollama's shape", async () => {
    const cases: Array<[() => Promise<unknown>, RegExp]> = [
      [
        () => ollama.chat({ model: 'tiny', messages: hello, options: { mirostat: 1 } }),
        /^invalid request body: options\.mirostat: not supported for generation$/,
      ],
      [
        () => ollama.chat({ model: 'tiny', messages: hello, options: { num_ctx: 8192 } }),
        /options\.num_ctx: this worker's context is 2048 tokens/,
      ],
      [
        () => ollama.chat({ model: 'tiny', messages: hello, options: { temperature: 3 } }),
        /options\.temperature: Too big/,
      ],
      [
        () => ollama.chat({ model: 'tiny', messages: hello, think: true }),
        /think: thinking is not supported/,
      ],
      [
        () => ollama.generate({ model: 'tiny', prompt: 'x', raw: true }),
        /raw: raw prompts are not supported here/,
      ],
      [
        () => ollama.generate({ model: 'tiny', prompt: 'x', images: ['aGk='] }),
        /images: images are not supported/,
      ],
      [
        () => ollama.chat({ model: 'tiny', messages: hello, keep_alive: '5m' }),
        /keep_alive: not supported on a worker/,
      ],
    ]
    for (const [p, message] of cases) {
      const r = await ollamaRefusal(p())
      assert.equal(r.status, 400, r.message)
      assert.match(r.message, message)
    }
  })
})
