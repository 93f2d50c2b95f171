import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { QueenClient } from '@rbee/client'
import {
  largestUnreadAt,
  metricValue,
  type StartedQueen,
  schemaErrors,
  startQueen,
  waitFor,
} from '@rbee/testing'
import OpenAI from 'openai'
import type { ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources'

// Tool calls and structured output through a real queen (its own local hive spawning real
// workers of the tiny model), with the official openai client: validated once where they enter,
// routed, retried and counted like every other chat request.

const weather = {
  type: 'object',
  properties: {
    city: { type: 'string', maxLength: 24 },
    unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
  },
  required: ['city', 'unit'],
  additionalProperties: false,
}
const tools: ChatCompletionTool[] = [
  { type: 'function', function: { name: 'get_weather', parameters: weather, strict: true } },
]
const ask: ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather in Paris?' }]
const person = {
  type: 'object',
  properties: {
    name: { type: 'string', maxLength: 20 },
    age: { type: 'integer' },
    born: { type: 'string', format: 'date' },
  },
  required: ['name', 'age', 'born'],
  additionalProperties: false,
}

// Run twice (see the end): with the fast lane and the raw worker transport, and with fastify and
// undici only (RBEE_QUEEN_TRANSPORT=undici): both ways of serving chat completions answer alike.
const toolsAndFormats = (transport: 'raw' | 'undici') => (): void => {
  let queen: StartedQueen
  let client: QueenClient
  let openai: OpenAI

  before(async () => {
    // The tools' documentation is ~600 tokens of the tiny model's vocabulary.
    queen = await startQueen({
      args: ['--worker-ctx-size', '2048'],
      env: { RBEE_QUEEN_TRANSPORT: transport },
    })
    client = new QueenClient({ baseUrl: queen.url })
    openai = new OpenAI({ baseURL: `${queen.url}/v1`, apiKey: 'not-needed-on-loopback', maxRetries: 0 })
  })
  after(async () => {
    await client?.close()
    await queen?.close()
  })

  test('what no worker can honour is refused at the edge, before any worker is spawned for it', async () => {
    const refused: Array<[object, string]> = [
      [{ tools, tool_choice: { type: 'function', function: { name: 'nope' } } }, 'tool_choice.function.name'],
      [
        {
          response_format: {
            type: 'json_schema',
            json_schema: { name: 'p', schema: { type: 'string', pattern: '(' } },
          },
        },
        'response_format.json_schema.schema.pattern',
      ],
      [{ n: 3 }, 'n'],
      [{ stream: true, logprobs: true }, 'logprobs'],
    ]
    for (const [extra, param] of refused) {
      const res = await fetch(`${queen.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'tiny', messages: ask, ...extra }),
      })
      const body = (await res.json()) as { error: { param: string } }
      assert.equal(res.status, 400)
      assert.equal(body.error.param, param)
    }
    assert.equal((await client.status()).workers.length, 0)
  })

  test('a required tool call and a json_schema answer, streamed and not, come back valid', async () => {
    const call = await openai.chat.completions.create({
      model: 'tiny',
      messages: ask,
      tools,
      tool_choice: 'required',
      parallel_tool_calls: false,
      seed: 1,
    })
    assert.equal(call.choices[0]?.finish_reason, 'tool_calls')
    const args = call.choices[0]!.message.tool_calls![0]!
    assert.ok(args.type === 'function')
    assert.deepEqual(schemaErrors(weather, JSON.parse(args.function.arguments)), [])

    const streamed = await openai.chat.completions
      .stream({
        model: 'tiny',
        messages: ask,
        tools,
        tool_choice: 'required',
        parallel_tool_calls: false,
        seed: 2,
      })
      .finalChatCompletion()
    const piece = streamed.choices[0]!.message.tool_calls![0]!
    assert.deepEqual(schemaErrors(weather, JSON.parse(piece.function.arguments)), [])

    const answer = await openai.chat.completions.create({
      model: 'tiny',
      messages: ask,
      response_format: { type: 'json_schema', json_schema: { name: 'person', schema: person, strict: true } },
      seed: 3,
    })
    const content = answer.choices[0]!.message.content!
    assert.deepEqual(schemaErrors(person, JSON.parse(content)), [], content)
  })

  test('a worker killed before the first piece of a tool call: the streamed call still comes, from another worker', async () => {
    const before = await client.metrics()
    const w = (await client.status()).workers.find((x) => x.routable && x.pid !== null)
    assert.ok(w?.pid)
    const port = Number(new URL(w.url).port)
    // Frozen, the worker cannot read the request: it waits in its socket until the kill.
    process.kill(w.pid, 'SIGSTOP')
    let killed = false
    try {
      const stream = openai.chat.completions.stream({
        model: 'tiny',
        messages: ask,
        tools,
        tool_choice: { type: 'function', function: { name: 'get_weather' } },
        seed: 4,
      })
      // More than a health probe's bytes (the hive probes the frozen worker too): the request itself.
      await waitFor(
        'the request to reach the frozen worker',
        async () => largestUnreadAt(port) > 150,
        10_000,
        5,
      )
      process.kill(w.pid, 'SIGKILL')
      killed = true
      const final = await stream.finalChatCompletion()
      const call = final.choices[0]!.message.tool_calls![0]!
      assert.equal(call.function.name, 'get_weather')
      assert.deepEqual(schemaErrors(weather, JSON.parse(call.function.arguments)), [])
      assert.equal(final.choices[0]?.finish_reason, 'tool_calls')
    } finally {
      if (!killed) process.kill(w.pid, 'SIGCONT')
    }
    const m = await client.metrics()
    const delta = (name: string, labels: Record<string, string>) =>
      metricValue(m, name, labels) - metricValue(before, name, labels)
    assert.equal(delta('rbee_queen_retries_total', { reason: 'worker_failed' }), 1)
    assert.equal(delta('rbee_queen_requests_total', { route: 'chat/completions', outcome: 'ok' }), 1)
    assert.ok(delta('rbee_queen_tokens_total', { model: 'tiny' }) >= 2, 'the pieces of the call are counted')
  })
}

describe('tool calls and structured output through the queen, fast lane', toolsAndFormats('raw'))
describe(
  'tool calls and structured output through the queen, fastify and undici only',
  toolsAndFormats('undici'),
)
