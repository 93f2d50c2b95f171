import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { QueenClient } from '@rbee/client'
import {
  largestUnreadAt,
  metricValue,
  ollamaChatText,
  ollamaRefusal,
  type StartedQueen,
  schemaErrors,
  startQueen,
  waitFor,
} from '@rbee/testing'
import { type Message, Ollama } from 'ollama'

const KEY = 'sk-user-0123456789'
const hello: Message[] = [{ role: 'user', content: 'Tell me about bees.' }]
const WEATHER = {
  type: 'object',
  properties: { city: { type: 'string', enum: ['Paris', 'Lyon'] } },
  required: ['city'],
  additionalProperties: false,
}

// One real queen-rbee with an API key; its in-process hive spawns real workers on the tiny model.
// The official `ollama` client, unchanged, calls it as it would call Ollama. Tests run in order
// and share it; the one that kills a worker comes last.
describe("queen-rbee routes Ollama's /api/chat and /api/generate like chat", () => {
  let queen: StartedQueen
  let client: QueenClient
  let ollama: Ollama
  before(async () => {
    queen = await startQueen({ apiKeys: [KEY] })
    client = new QueenClient({ baseUrl: queen.url, token: KEY })
    ollama = new Ollama({ host: queen.url, headers: { authorization: `Bearer ${KEY}` } })
  })
  after(async () => {
    await client?.close()
    await queen?.close()
  })

  test('a refused field is a 400 before any worker is spawned; the load call spawns one', async () => {
    const refused = await ollamaRefusal(
      ollama.chat({ model: 'tiny', messages: hello, options: { num_thread: 2 } }),
    )
    assert.equal(refused.status, 400)
    assert.match(
      refused.message,
      /^invalid request body: options\.num_thread: not supported: the hive places/,
    )
    assert.equal((await client.status()).workers.length, 0, 'no worker was spawned for it')
    const load = await ollama.generate({ model: 'tiny:latest', prompt: '', keep_alive: '1h' })
    assert.deepEqual([load.done, load.done_reason], [true, 'load'])
    const ps = (await ollama.ps()).models.find((m) => m.name === 'tiny')
    assert.ok(ps, 'the model is loaded')
    const expires = Date.parse(String(ps.expires_at))
    assert.ok(Math.abs(expires - (Date.now() + 3_600_000)) < 60_000, `expires_at ${ps.expires_at}`)
  })

  test('chat and generate, streamed and whole; num_predict bounds eval_count; metrics by route', async () => {
    const options = { num_predict: 5, temperature: 0 }
    let streamed = ''
    let evalCount = 0
    for await (const part of await ollama.chat({ model: 'tiny', messages: hello, stream: true, options })) {
      streamed += part.message.content
      if (part.done) evalCount = part.eval_count
    }
    const whole = await ollama.chat({ model: 'tiny', messages: hello, options })
    assert.equal(whole.message.content, streamed)
    assert.deepEqual([whole.eval_count, evalCount, whole.done_reason], [5, 5, 'length'])
    let pieces = 0
    for await (const part of await ollama.generate({ model: 'tiny', prompt: 'Bees', stream: true, options }))
      if (!part.done) pieces++
    const generated = await ollama.generate({ model: 'tiny', prompt: 'Bees', options })
    assert.deepEqual([pieces, generated.eval_count], [5, 5])

    const m = await client.metrics()
    assert.equal(metricValue(m, 'rbee_queen_requests_total', { route: 'api/chat', outcome: 'ok' }), 2)
    assert.equal(metricValue(m, 'rbee_queen_requests_total', { route: 'api/generate', outcome: 'ok' }), 3)
  })

  test('a JSON schema format and a tool call through the queen', async () => {
    const content = await ollamaChatText(
      await ollama.chat({
        model: 'tiny',
        messages: hello,
        format: WEATHER,
        stream: true,
        options: { seed: 7 },
      }),
    )
    assert.deepEqual(schemaErrors(WEATHER, JSON.parse(content)), [], content)
    const called = await ollama.chat({
      model: 'tiny',
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: WEATHER } }],
      options: { num_predict: 64 },
      // rbee's addition: Ollama's model always chooses, and a noise model never calls on its own.
      ...{ tool_choice: 'required' },
    })
    const call = called.message.tool_calls?.[0]
    assert.ok(call, JSON.stringify(called.message))
    assert.deepEqual(schemaErrors(WEATHER, call.function.arguments), [])
  })

  test('a worker killed before the first token of a streamed /api/chat request: it succeeds on another', async () => {
    const w = await waitFor(
      'a routable worker',
      async () => (await client.status()).workers.find((x) => x.routable && x.pid !== null),
      30_000,
    )
    const retriesBefore = metricValue(await client.metrics(), 'rbee_queen_retries_total', {
      reason: 'worker_failed',
    })
    // Frozen, the worker takes the connection (the kernel does) but never answers: the kill lands
    // after dispatch and before any token.
    process.kill(w.pid!, 'SIGSTOP')
    let killed = false
    try {
      const answer = ollama.chat({
        model: 'tiny',
        messages: hello,
        stream: true,
        options: { num_predict: 4 },
      })
      const port = Number(new URL(w.url).port)
      // Above the size of the hive's health probes, which the frozen worker leaves unread too.
      await waitFor(
        'the request to reach the frozen worker',
        async () => largestUnreadAt(port) > 150,
        10_000,
        5,
      )
      process.kill(w.pid!, 'SIGKILL')
      killed = true
      const parts = []
      for await (const part of await answer) parts.push(part)
      assert.equal(parts.at(-1)?.done, true)
      assert.equal(parts.at(-1)?.eval_count, 4)
    } finally {
      if (!killed) process.kill(w.pid!, 'SIGCONT')
    }
    const m = await client.metrics()
    assert.equal(metricValue(m, 'rbee_queen_retries_total', { reason: 'worker_failed' }), retriesBefore + 1)
  })
})
