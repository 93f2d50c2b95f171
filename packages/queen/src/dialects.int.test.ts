import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import Anthropic from '@anthropic-ai/sdk'
import { QueenClient } from '@rbee/client'
import { largestUnreadAt, metricValue, type StartedQueen, startQueen, waitFor } from '@rbee/testing'
import OpenAI from 'openai'

const KEY = 'sk-user-0123456789'
const hello = [{ role: 'user' as const, content: 'Tell me about bees.' }]

// One real queen-rbee with an API key and its in-process hive, which spawns real workers on the
// tiny model. Anthropic's and OpenAI's official clients, unchanged, call it as they would call
// their own services. Tests run in order and share it; the ones that kill workers come last.
describe("queen-rbee routes Anthropic's Messages API and OpenAI's Responses API like chat", () => {
  let queen: StartedQueen
  let client: QueenClient
  let anthropic: Anthropic
  let openai: OpenAI
  const dead = new Set<number>()
  const liveWorker = () =>
    waitFor(
      'a routable worker',
      async () =>
        (await client.status()).workers.find((w) => w.routable && w.pid !== null && !dead.has(w.pid)),
      30_000,
    )
  const kill = (pid: number): void => {
    dead.add(pid)
    process.kill(pid, 'SIGKILL')
  }

  before(async () => {
    queen = await startQueen({ apiKeys: [KEY], args: ['--worker-ctx-size', '16384'] })
    client = new QueenClient({ baseUrl: queen.url, token: KEY })
    // Anthropic's own header (what Claude Code sends for ANTHROPIC_API_KEY).
    anthropic = new Anthropic({
      baseURL: queen.url,
      apiKey: null,
      authToken: null,
      defaultHeaders: { 'x-api-key': KEY },
      maxRetries: 0,
    })
    openai = new OpenAI({ baseURL: `${queen.url}/v1`, apiKey: KEY, maxRetries: 0 })
  })
  after(async () => {
    await client?.close()
    await queen?.close()
  })

  test('messages whole and streamed, count_tokens routed by model, metrics by route', async () => {
    const whole = await anthropic.messages.create({ model: 'tiny', max_tokens: 8, messages: hello })
    assert.equal(whole.type, 'message')
    assert.ok(whole.usage.output_tokens >= 1 && whole.usage.output_tokens <= 8)
    const stream = anthropic.messages.stream({ model: 'tiny', max_tokens: 8, messages: hello })
    let deltas = 0
    for await (const ev of stream) if (ev.type === 'content_block_delta') deltas++
    const streamed = await stream.finalMessage()
    assert.equal(deltas, streamed.usage.output_tokens)
    const counted = await anthropic.messages.countTokens({ model: 'tiny', messages: hello })
    assert.equal(counted.input_tokens, whole.usage.input_tokens)

    const m = await client.metrics()
    assert.equal(metricValue(m, 'rbee_queen_requests_total', { route: 'messages', outcome: 'ok' }), 2)
    assert.equal(
      metricValue(m, 'rbee_queen_requests_total', { route: 'messages/count_tokens', outcome: 'ok' }),
      1,
    )
    assert.equal(
      metricValue(m, 'rbee_queen_tokens_total', { model: 'tiny' }),
      whole.usage.output_tokens + streamed.usage.output_tokens,
    )
  })

  test("refusals come in Anthropic's shape from the queen itself: a wrong key, a refused field, an unknown model", async () => {
    const stranger = new Anthropic({ baseURL: queen.url, apiKey: 'sk-wrong-0123456789', maxRetries: 0 })
    await assert.rejects(
      stranger.messages.create({ model: 'tiny', max_tokens: 8, messages: hello }),
      (err: unknown) => {
        assert.ok(err instanceof Anthropic.AuthenticationError, String(err))
        assert.equal((err.error as { error: { type: string } }).error.type, 'authentication_error')
        return true
      },
    )
    await assert.rejects(
      anthropic.messages.create({ model: 'tiny', max_tokens: 8, messages: hello, ...{ top_logprobs: 2 } }),
      (err: unknown) =>
        err instanceof Anthropic.BadRequestError && /top_logprobs: Unrecognized key/.test(err.message),
    )
    await assert.rejects(
      anthropic.messages.create({ model: 'no-such-model', max_tokens: 8, messages: hello }),
      Anthropic.NotFoundError,
    )
  })

  test('responses whole and streamed through the queen', async () => {
    const whole = await openai.responses.create({
      model: 'tiny',
      input: 'Tell me about bees.',
      max_output_tokens: 8,
    })
    assert.ok(whole.output_text.length > 0)
    const stream = await openai.responses.create({
      model: 'tiny',
      input: 'Tell me about bees.',
      max_output_tokens: 8,
      stream: true,
    })
    let deltas = 0
    let last = ''
    for await (const ev of stream) {
      if (ev.type === 'response.output_text.delta') deltas++
      last = ev.type
    }
    assert.ok(last === 'response.completed' || last === 'response.incomplete', last)
    assert.ok(deltas >= 1)
    const m = await client.metrics()
    assert.equal(metricValue(m, 'rbee_queen_requests_total', { route: 'responses', outcome: 'ok' }), 2)
  })

  // Tool calls: the worker's chat tool calling, relayed like chat's (a call's first piece is output).
  test('a forced tool through the queen: a tool_use block and a function_call item', async () => {
    const schema = {
      type: 'object' as const,
      // A short, fixed set of answers: even a noise model's call ends well within max_tokens.
      properties: { city: { type: 'string', enum: ['Paris', 'Lyon'] } },
      required: ['city'],
      additionalProperties: false,
    }
    const message = await anthropic.messages.create({
      model: 'tiny',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [{ name: 'get_weather', input_schema: schema }],
      tool_choice: { type: 'any', disable_parallel_tool_use: true },
    })
    assert.equal(message.stop_reason, 'tool_use')
    assert.ok(message.content.some((b) => b.type === 'tool_use' && b.name === 'get_weather'))
    const stream = await openai.responses.create({
      model: 'tiny',
      input: 'Weather in Paris?',
      tools: [{ type: 'function', name: 'get_weather', parameters: schema, strict: false }],
      tool_choice: 'required',
      parallel_tool_calls: false,
      max_output_tokens: 64,
      stream: true,
    })
    const items: string[] = []
    for await (const ev of stream) if (ev.type === 'response.output_item.done') items.push(ev.item.type)
    assert.ok(items.includes('function_call'), items.join(','))
  })

  test('a worker killed before the first token of a streamed Messages request: it succeeds on another', async () => {
    const w = await liveWorker()
    const retriesBefore = metricValue(await client.metrics(), 'rbee_queen_retries_total', {
      reason: 'worker_failed',
    })
    // Frozen, the worker takes the connection (the kernel does) but never answers: the kill lands
    // after dispatch and before any token.
    process.kill(w.pid!, 'SIGSTOP')
    let killed = false
    try {
      const answer = anthropic.messages.create({
        model: 'tiny',
        max_tokens: 6,
        messages: hello,
        stream: true,
      })
      const port = Number(new URL(w.url).port)
      // Above the size of the hive's health probes, which the frozen worker leaves unread too.
      await waitFor(
        'the request to reach the frozen worker',
        async () => largestUnreadAt(port) > 150,
        10_000,
        5,
      )
      kill(w.pid!)
      killed = true
      const kinds: string[] = []
      for await (const ev of await answer) kinds.push(ev.type)
      assert.equal(kinds[0], 'message_start')
      assert.equal(kinds.at(-1), 'message_stop')
    } finally {
      if (!killed) process.kill(w.pid!, 'SIGCONT')
    }
    const m = await client.metrics()
    assert.equal(metricValue(m, 'rbee_queen_retries_total', { reason: 'worker_failed' }), retriesBefore + 1)
  })

  test("a worker killed mid-stream: the client gets Anthropic's error event, not a hang", async () => {
    const { data: stream, response } = await anthropic.messages
      .create({ model: 'tiny', max_tokens: 16_000, messages: hello, stream: true })
      .withResponse()
    // The worker the queen chose says its name in the stream's head.
    const serving = response.headers.get('x-rbee-worker')
    const w = (await client.status()).workers.find((x) => x.id === serving)
    assert.ok(w?.pid, `no worker ${serving}`)
    let deltas = 0
    await assert.rejects(
      async () => {
        for await (const ev of stream) if (ev.type === 'content_block_delta' && ++deltas === 5) kill(w.pid!)
      },
      (err: unknown) => {
        assert.ok(err instanceof Anthropic.APIError, String(err))
        assert.equal((err.error as { error: { type: string } }).error.type, 'api_error')
        assert.match(err.message, /failed mid-stream after \d+ tokens/)
        return true
      },
    )
    assert.ok(deltas >= 5)
  })
})
