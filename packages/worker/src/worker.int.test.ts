import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { readSse } from '@rbee/common'
import {
  type InferEvent,
  InferEventSchema,
  RerankResponseSchema,
  WorkerHeartbeatSchema,
  WorkerReadySchema,
} from '@rbee/contracts'
import {
  daemonCommand,
  ManagedProcess,
  type StartedWorker,
  startWorker,
  tinyModelPath,
  tinyRerankerModelPath,
  waitFor,
} from '@rbee/testing'
import { Ollama } from 'ollama'
import OpenAI from 'openai'

const json = { 'content-type': 'application/json' }

async function infer(url: string, body: unknown, signal?: AbortSignal): Promise<InferEvent[]> {
  const res = await fetch(`${url}/v1/infer`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify(body),
    signal,
  })
  assert.equal(res.status, 200, await res.clone().text())
  const events: InferEvent[] = []
  for await (const m of readSse(res.body!)) events.push(InferEventSchema.parse(JSON.parse(m.data)))
  return events
}

const textOf = (events: InferEvent[]): string => events.map((e) => (e.type === 'token' ? e.t : '')).join('')

/**
 * POSTs a body and resolves with the status. The server may answer (413) and close before the
 * whole body is written; the write error that follows is not the answer, so it is ignored.
 */
function postStatus(url: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: json }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('error', (err) => setTimeout(() => reject(err), 1000).unref())
    req.end(body)
  })
}

async function ready(url: string) {
  return WorkerReadySchema.parse(await (await fetch(`${url}/v1/ready`)).json())
}

/**
 * Runs `work` while asking `/health` over and over, one request after the other, and `thenAsk`
 * times more once it is done (what a request sets off can outlast its first answer); resolves
 * with its result, the slowest `/health` answer and how many there were.
 */
async function healthDuring<T>(
  url: string,
  work: () => Promise<T>,
  thenAsk = 0,
): Promise<{ result: T; slowestMs: number; answers: number }> {
  let slowestMs = 0
  let answers = 0
  let done = false
  let left = thenAsk
  const asking = (async () => {
    while (!done || left-- > 0) {
      const started = performance.now()
      const res = await fetch(`${url}/health`)
      await res.text()
      assert.equal(res.status, 200)
      slowestMs = Math.max(slowestMs, performance.now() - started)
      answers++
    }
  })()
  let result: T
  try {
    result = await work()
  } finally {
    done = true
    await asking
  }
  return { result, slowestMs, answers }
}

/** POSTs JSON and resolves with the status and the parsed body. */
async function postJson(url: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { method: 'POST', headers: json, body: JSON.stringify(body) })
  return { status: res.status, body: await res.json() }
}

describe('a worker on the tiny model', () => {
  let w: StartedWorker
  before(async () => {
    w = await startWorker({ args: ['--slots', '2', '--ctx-size', '2048', '--slot-wait-ms', '200'] })
  })
  after(() => w.close())

  test('answers health and reports itself ready with its slots', async () => {
    const health = (await (await fetch(`${w.url}/health`)).json()) as { status: string; service: string }
    assert.equal(health.status, 'ok')
    assert.equal(health.service, 'llm-worker-rbee')
    const r = await ready(w.url)
    assert.equal(r.ready, true)
    assert.equal(r.status, 'ready')
    assert.equal(r.progress, 1)
    assert.equal(r.slots_total, 2)
  })

  test('streams tokens on /v1/infer and ends with token counts and timings', async () => {
    const events = await infer(w.url, { prompt: 'Hello there', max_tokens: 16, seed: 7 })
    assert.equal(events[0]?.type, 'started')
    const end = events.at(-1)
    assert.ok(end?.type === 'end', JSON.stringify(end))
    assert.equal(end.tokens_out, 16)
    assert.equal(end.stop_reason, 'length')
    assert.ok(end.timings.prompt_tokens > 0)
    const text = textOf(events)
    assert.ok(text.length > 0)
    assert.match(text, /^[\x20-\x7e]*$/, 'the tiny model only ever produces printable ASCII')
  })

  test('the same seed and prompt give the same text, another seed another text', async () => {
    const body = { prompt: 'Once upon a time', max_tokens: 24, temperature: 1, seed: 42 }
    const a = textOf(await infer(w.url, body))
    const b = textOf(await infer(w.url, body))
    const c = textOf(await infer(w.url, { ...body, seed: 43 }))
    assert.equal(a, b)
    assert.notEqual(a, c)
  })

  test('a stop sequence ends the generation with stop_reason "stop"', async () => {
    const free = textOf(await infer(w.url, { prompt: 'abc', max_tokens: 64, seed: 3 }))
    const stopAt = free.slice(10, 12)
    const events = await infer(w.url, { prompt: 'abc', max_tokens: 64, seed: 3, stop: [stopAt] })
    const end = events.at(-1)
    assert.ok(end?.type === 'end')
    assert.equal(end.stop_reason, 'stop')
    assert.ok(!textOf(events).includes(stopAt))
  })

  test('the official openai client gets chat and text completions, streamed and not', async () => {
    const client = new OpenAI({ baseURL: `${w.url}/v1`, apiKey: 'unused', maxRetries: 0 })
    const chat = await client.chat.completions.create({
      model: 'tiny',
      messages: [{ role: 'user', content: 'Say hi' }],
      max_tokens: 8,
      seed: 1,
    })
    assert.equal(chat.choices[0]?.finish_reason, 'length')
    assert.equal(chat.usage?.completion_tokens, 8)
    assert.ok((chat.choices[0]?.message.content ?? '').length > 0)

    const stream = await client.chat.completions.create({
      model: 'tiny',
      messages: [{ role: 'user', content: 'Say hi' }],
      max_tokens: 8,
      seed: 1,
      stream: true,
      stream_options: { include_usage: true },
    })
    let streamed = ''
    let usage: number | undefined
    for await (const chunk of stream) {
      streamed += chunk.choices[0]?.delta.content ?? ''
      if (chunk.usage) usage = chunk.usage.completion_tokens
    }
    assert.equal(
      streamed,
      chat.choices[0]?.message.content,
      'streaming and not give the same text for one seed',
    )
    assert.equal(usage, 8)

    const completion = await client.completions.create({
      model: 'tiny',
      prompt: 'The sky',
      max_tokens: 6,
      seed: 2,
    })
    assert.equal(completion.choices[0]?.finish_reason, 'length')
    const cstream = await client.completions.create({
      model: 'tiny',
      prompt: 'The sky',
      max_tokens: 6,
      seed: 2,
      stream: true,
    })
    let ctext = ''
    for await (const chunk of cstream) ctext += chunk.choices[0]?.text ?? ''
    assert.equal(ctext, completion.choices[0]?.text)

    const models = await client.models.list()
    assert.deepEqual(
      models.data.map((m) => m.id),
      ['tiny'],
    )
    const emb = await client.embeddings.create({ model: 'tiny', input: ['a', 'bc'] })
    assert.equal(emb.data.length, 2)
    assert.ok((emb.data[0]?.embedding.length ?? 0) > 0)
    // `dimensions`: the first N values, back at unit length.
    const cut = await client.embeddings.create({ model: 'tiny', input: ['a', 'bc'], dimensions: 8 })
    for (const d of cut.data) {
      assert.equal(d.embedding.length, 8)
      assert.ok(Math.abs(Math.hypot(...d.embedding) - 1) < 1e-6)
    }
  })

  test('two requests are decoded at the same time in separate slots, and status is busy only when all are taken', async () => {
    const body = { prompt: 'Parallel', max_tokens: 1500, temperature: 1, seed: 1 }
    const startedAt: number[] = []
    const endedAt: number[] = []
    let sawBusy = false
    const run = async () => {
      const res = await fetch(`${w.url}/v1/infer`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify(body),
      })
      for await (const m of readSse(res.body!)) {
        if (m.event === 'started') startedAt.push(performance.now())
        if (m.event === 'token' && startedAt.length === 2 && !sawBusy) {
          const r = await ready(w.url)
          sawBusy = r.status === 'busy' && r.slots_busy === 2
        }
      }
      endedAt.push(performance.now())
    }
    await Promise.all([run(), run()])
    assert.equal(startedAt.length, 2)
    assert.ok(Math.max(...startedAt) < Math.min(...endedAt), 'the second started before the first ended')
    assert.ok(sawBusy, 'status was busy while both slots were generating')
    assert.equal((await ready(w.url)).status, 'ready')
  })

  test('when every slot stays busy a request gets 503 with Retry-After', async () => {
    const ac = new AbortController()
    const long = { prompt: 'x', max_tokens: 2000 }
    const holders = [0, 1].map(async () => {
      const res = await fetch(`${w.url}/v1/infer`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify(long),
        signal: ac.signal,
      })
      try {
        for await (const _ of readSse(res.body!));
      } catch {
        // aborted below
      }
    })
    await waitFor('both slots busy', async () => (await ready(w.url)).slots_busy === 2, 10_000, 20)
    const res = await fetch(`${w.url}/v1/infer`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify(long),
    })
    assert.equal(res.status, 503)
    assert.equal(res.headers.get('retry-after'), '1')
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'RBEE_BUSY')
    ac.abort()
    await Promise.all(holders)
    await waitFor('both slots free', async () => (await ready(w.url)).slots_busy === 0, 10_000, 20)
  })

  test('a client that disconnects mid-stream stops its generation and frees the slot at once', async () => {
    const ac = new AbortController()
    const res = await fetch(`${w.url}/v1/infer`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ prompt: 'bye', max_tokens: 2000 }),
      signal: ac.signal,
    })
    let tokens = 0
    try {
      for await (const m of readSse(res.body!)) {
        if (m.event === 'token' && ++tokens === 3) ac.abort()
      }
    } catch {
      // the abort ends the read
    }
    const t0 = performance.now()
    await waitFor('the slot free', async () => (await ready(w.url)).slots_busy === 0, 2000, 20)
    assert.ok(performance.now() - t0 < 2000)
  })

  test('DELETE /v1/infer/:id cancels a generation, which ends with stop_reason "cancelled"', async () => {
    const res = await fetch(`${w.url}/v1/infer`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ prompt: 'cancel me', max_tokens: 2000, request_id: 'req-cancel-1' }),
    })
    const events: InferEvent[] = []
    for await (const m of readSse(res.body!)) {
      const e = InferEventSchema.parse(JSON.parse(m.data))
      events.push(e)
      if (e.type === 'token' && e.i === 2) {
        const del = await fetch(`${w.url}/v1/infer/req-cancel-1`, { method: 'DELETE' })
        assert.equal(del.status, 202)
      }
    }
    const end = events.at(-1)
    assert.ok(end?.type === 'end')
    assert.equal(end.stop_reason, 'cancelled')
    assert.ok(end.tokens_out < 2000)
    assert.equal((await fetch(`${w.url}/v1/infer/req-cancel-1`, { method: 'DELETE' })).status, 404)
  })

  test('every kind of bad request gets a 400 that names the field', async () => {
    const cases: Array<[string, string, RegExp]> = [
      ['/v1/infer', '{"prompt":', /malformed JSON/],
      ['/v1/infer', '{}', /prompt/],
      ['/v1/infer', '{"prompt":"x","temperature":3}', /temperature/],
      ['/v1/infer', '{"prompt":"x","max_tokens":0}', /max_tokens/],
      ['/v1/infer', '{"prompt":"x","max_tokens":4096}', /max_tokens.*context/],
      ['/v1/infer', '{"prompt":"x","top_p":"high"}', /top_p/],
      ['/v1/infer', '{"prompt":"x","stop":["a","b","c","d","e"]}', /stop/],
      ['/v1/infer', '{"prompt":"x","seed":-5}', /seed/],
      ['/v1/infer', '{"prompt":"x","surprise":1}', /surprise/],
      ['/v1/infer', '[1,2]', /body/],
      ['/v1/chat/completions', '{"model":"tiny"}', /messages/],
      [
        '/v1/chat/completions',
        '{"model":"tiny","messages":[{"role":"wizard","content":"x"}]}',
        /messages\.0\.role/,
      ],
      ['/v1/chat/completions', '{"model":"tiny","messages":[{"role":"user","content":"x"}],"n":3}', /\bn\b/],
      ['/v1/completions', '{"model":"tiny","prompt":42}', /prompt/],
      ['/v1/completions', '{"model":"tiny","prompt":"x","max_tokens":100000000}', /max_tokens/],
      ['/v1/embeddings', '{"model":"tiny"}', /input/],
      ['/v1/embeddings', '{"model":"tiny","input":"x","surprise":1}', /surprise/],
      ['/v1/embeddings', '{"model":"tiny","input":"x","dimensions":100000}', /dimensions/],
      [
        '/v1/embeddings',
        '{"model":"tiny","input":"x","dimensions":65536}',
        /dimensions: this model's vectors have \d+ dimensions/,
      ],
    ]
    for (const [path, body, pattern] of cases) {
      const res = await fetch(`${w.url}${path}`, { method: 'POST', headers: json, body })
      assert.equal(res.status, 400, `${path} ${body}`)
      const err = (await res.json()) as { error: { message: string } }
      assert.match(err.error.message, pattern, `${path} ${body}`)
    }
    const openAiShape = (await (
      await fetch(`${w.url}/v1/chat/completions`, {
        method: 'POST',
        headers: json,
        body: '{"model":"t","messages":[]}',
      })
    ).json()) as { error: { type: string; param: string } }
    assert.equal(openAiShape.error.type, 'invalid_request_error')
    assert.equal(openAiShape.error.param, 'messages')
    assert.equal(
      await postStatus(`${w.url}/v1/infer`, JSON.stringify({ prompt: 'x'.repeat(9 * 1024 * 1024) })),
      413,
    )
    assert.equal((await fetch(`${w.url}/nope`)).status, 404)
    assert.equal((await ready(w.url)).status, 'ready', 'the worker is still serving')
  })

  test('the official ollama client embeds on a worker directly; rerank says this model cannot rank', async () => {
    const ollama = new Ollama({ host: w.url })
    assert.match((await ollama.version()).version, /^\d+\.\d+\.\d+$/)
    const e = await ollama.embed({ model: 'tiny', input: ['a bee', 'a hive'], dimensions: 16 })
    assert.deepEqual(
      e.embeddings.map((v) => [v.length, Math.round(Math.hypot(...v) * 1e6) / 1e6]),
      [
        [16, 1],
        [16, 1],
      ],
    )
    await assert.rejects(ollama.embed({ model: 'tiny', input: 'a', keep_alive: '5m' }), (err: Error) => {
      assert.match(err.message, /keep_alive: not supported on a worker/)
      return true
    })
    const res = await fetch(`${w.url}/v1/rerank`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ model: 'tiny', query: 'q', documents: ['a'] }),
    })
    assert.equal(res.status, 400)
    const err = (await res.json()) as { error: { message: string; param: string } }
    assert.match(err.error.message, /no classification head \(a cls.weight or cls.output.weight tensor\)/)
    assert.equal(err.error.param, 'model')
  })
})

describe('a worker on a reranking model', () => {
  let w: StartedWorker
  before(async () => {
    w = await startWorker({
      model: await tinyRerankerModelPath(),
      args: ['--slots', '1', '--ctx-size', '512'],
    })
  })
  after(() => w.close())
  const rerank = async (body: unknown, path = '/v1/rerank') =>
    fetch(`${w.url}${path}`, { method: 'POST', headers: json, body: JSON.stringify(body) })

  test('scores every document against the query, most relevant first, on both paths', async () => {
    const documents = ['honey', { text: 'the hive keeps count of every trip' }, 'cars', 'honey']
    const res = await rerank({ model: 'tiny-rerank', query: 'what do bees make?', documents })
    assert.equal(res.status, 200, await res.clone().text())
    const all = RerankResponseSchema.parse(await res.json())
    assert.deepEqual(all.results.map((r) => r.index).sort(), [0, 1, 2, 3])
    const scores = all.results.map((r) => r.relevance_score)
    assert.deepEqual(
      scores,
      [...scores].sort((a, b) => b - a),
    )
    for (const r of all.results) assert.ok(r.relevance_score > 0 && r.relevance_score < 1)
    const same = all.results.filter((r) => r.index === 0 || r.index === 3)
    assert.equal(same[0]?.relevance_score, same[1]?.relevance_score, 'the same pair scores the same')
    assert.ok(all.usage.prompt_tokens > 0)
    const best = RerankResponseSchema.parse(
      await (
        await rerank(
          { model: 'x', query: 'what do bees make?', documents, top_n: 2, return_documents: false },
          '/rerank',
        )
      ).json(),
    )
    assert.deepEqual(
      best.results,
      all.results.slice(0, 2).map(({ index, relevance_score }) => ({ index, relevance_score })),
    )
  })

  test('a document that cannot fit with the query is refused by name, before any scoring', async () => {
    const res = await rerank({ model: 'x', query: 'q', documents: ['short', 'bee '.repeat(2000)] })
    assert.equal(res.status, 400)
    const err = (await res.json()) as { error: { message: string; param: string } }
    assert.equal(err.error.param, 'documents.1')
    assert.match(err.error.message, /documents\[1\]/)
  })
})

describe('a worker given a prompt larger than its context', () => {
  let w: StartedWorker
  before(async () => {
    w = await startWorker({ args: ['--slots', '2', '--ctx-size', '2048'] })
  })
  after(() => w.close())

  // 7.6 MB: it held /health for 3.6 s (completions), 9.6 s (chat) and 5 s (embeddings, then a
  // 500) before the byte bound: 2048 tokens of at most 13 bytes each cannot be more than 26624.
  const big = 'hello world, the quick brown fox. '.repeat(230_000).slice(0, 7_600_000)
  for (const [path, body, what, param] of [
    ['/v1/completions', { model: 'tiny', prompt: big, max_tokens: 2 }, 'the prompt', 'prompt'],
    [
      '/v1/chat/completions',
      { model: 'tiny', messages: [{ role: 'user', content: big }], max_tokens: 2 },
      'the text of the messages',
      'messages',
    ],
    ['/v1/embeddings', { model: 'tiny', input: big }, 'the input', 'input'],
  ] as const) {
    test(`${path} refuses it with a 400 at once, naming the limit, and /health keeps answering`, async (t) => {
      const started = performance.now()
      const { result, slowestMs, answers } = await healthDuring(w.url, () =>
        postJson(`${w.url}${path}`, body),
      )
      const ms = performance.now() - started
      t.diagnostic(
        `400 after ${ms.toFixed(0)} ms; /health answered ${answers} times, the slowest in ${slowestMs.toFixed(0)} ms`,
      )
      assert.equal(result.status, 400)
      const error = (result.body as { error: { code: string; message: string; param: string } }).error
      assert.equal(error.code, 'RBEE_PROMPT_TOO_LONG')
      assert.equal(error.param, param)
      assert.equal(
        error.message,
        `${what} is 7600000 bytes and cannot fit ${path === '/v1/embeddings' ? 'the 2046 tokens an embedding input may have here' : "this worker's context of 2048 tokens"} (a token of this model stands for at most 13 bytes, so at most ${path === '/v1/embeddings' ? 26598 : 26624} bytes fit)`,
      )
      // Reading and parsing 7.6 MB of JSON is what is left; tokenizing it held /health for seconds.
      assert.ok(slowestMs < 1000, `/health took ${slowestMs.toFixed(0)} ms`)
    })
  }

  test('a prompt within the byte bound but over the context in tokens is refused after a context worth of tokenizing', async () => {
    // Prose is about one token per 1.2 bytes here: 20 KB passes the byte bound, not the count.
    const prose = 'It was the best of times, it was the worst of times. '.repeat(400)
    const res = await postJson(`${w.url}/v1/completions`, { model: 'tiny', prompt: prose, max_tokens: 2 })
    assert.equal(res.status, 400)
    assert.match(
      (res.body as { error: { message: string } }).error.message,
      /^the prompt is \d+ tokens or more and cannot fit this worker's context of 2048 tokens$/,
    )
    const events = await infer(w.url, { prompt: prose.slice(0, 1000), max_tokens: 2 })
    assert.equal(events.at(-1)?.type, 'end', 'a prompt that fits is still served')
  })
})

describe('a worker with a 262144-token context', () => {
  // 240000 tokens of ' the' (960 KB, the most text the tiny model's vocabulary fits in this
  // context): tokenized in one call, counted first and then again by node-llama-cpp, it held
  // /health for 638 ms (infer) and 686 ms (chat); in pieces the slowest answer took 42–66 ms.
  const prompt = ' the'.repeat(240_000)
  for (const [path, body] of [
    ['/v1/infer', { prompt, max_tokens: 1 }],
    [
      '/v1/chat/completions',
      { model: 'tiny', stream: true, messages: [{ role: 'user', content: prompt }], max_tokens: 1 },
    ],
  ] as const) {
    test(`${path} tokenizes the largest prompt it takes in pieces, and /health answers within 300 ms meanwhile`, async (t) => {
      // A worker each: a cancelled prompt is still evaluated to its end (minutes for this one).
      // One llama.cpp thread: the other core answers /health, as on a machine with cores to spare.
      const w = await startWorker({
        args: ['--slots', '1', '--ctx-size', '262144', '--threads', '1', '--grace-ms', '0'],
      })
      t.after(() => w.close())
      const ac = new AbortController()
      t.after(() => ac.abort())
      const {
        result: first,
        slowestMs,
        answers,
      } = await healthDuring(
        w.url,
        async () => {
          const res = await fetch(`${w.url}${path}`, {
            method: 'POST',
            headers: json,
            body: JSON.stringify(body),
            signal: ac.signal,
          })
          assert.equal(res.status, 200)
          for await (const m of readSse(res.body!)) return m.data
          return ''
        },
        // node-llama-cpp takes the prompt over once the stream has started.
        20,
      )
      t.diagnostic(
        `/health answered ${answers} times until 20 answers after the stream started, the slowest in ${slowestMs.toFixed(0)} ms`,
      )
      assert.match(first, path === '/v1/infer' ? /"prompt_tokens":24000\d/ : /chat\.completion\.chunk/)
      assert.ok(slowestMs < 300, `/health took ${slowestMs.toFixed(0)} ms`)
    })
  }
})

describe('worker start-up and shutdown', () => {
  test('a wrong flag value ends the process at once with a clear message and exit code 2', async () => {
    const model = await tinyModelPath()
    for (const [args, pattern] of [
      [['--model', model, '--slots', 'many'], /--slots/],
      [['--model', model, '--backend', 'quantum'], /--backend/],
      [['--model', '/no/such/file.gguf'], /--model: no such model file/],
      [['--model', model, '--port', '70000'], /--port/],
      [['--model', model, '--frobnicate'], /frobnicate/],
    ] as const) {
      const p = new ManagedProcess(daemonCommand('llm-worker-rbee', [...args]))
      const exit = await p.exited
      assert.equal(exit.code, 2, args.join(' '))
      assert.match(p.stderrTail(), pattern)
    }
  })

  test('an unloadable model file ends the process with a clear error', async () => {
    const notGguf = join(tmpdir(), `rbee-not-a-model-${process.pid}.gguf`)
    writeFileSync(notGguf, 'this is not a model\n'.repeat(100))
    const truncated = join(tmpdir(), `rbee-truncated-${process.pid}.gguf`)
    const { readFileSync } = await import('node:fs')
    writeFileSync(truncated, readFileSync(await tinyModelPath()).subarray(0, 4000))
    for (const file of [notGguf, truncated]) {
      const p = new ManagedProcess(daemonCommand('llm-worker-rbee', ['--model', file]))
      const fatal = await p.waitForJson((m) => m.type === 'fatal')
      const exit = await p.exited
      assert.equal(exit.code, 1)
      assert.equal(fatal.code, 'RBEE_MODEL_INVALID')
      assert.match(p.stderrTail(), new RegExp(`cannot use ${file}`))
    }
  })

  test('bound beyond loopback it refuses to start without an API token, and then requires it', async () => {
    const model = await tinyModelPath()
    const p = new ManagedProcess(daemonCommand('llm-worker-rbee', ['--model', model, '--host', '0.0.0.0']))
    assert.notEqual((await p.exited).code, 0)
    assert.match(p.stderrTail(), /without an API token/)

    const w = await startWorker({ args: ['--host', '0.0.0.0', '--api-token', 'secret-token-1'] })
    try {
      const no = await fetch(`${w.url}/v1/models`)
      assert.equal(no.status, 401)
      const wrong = await fetch(`${w.url}/v1/models`, { headers: { authorization: 'Bearer nope' } })
      assert.equal(wrong.status, 401)
      const yes = await fetch(`${w.url}/v1/models`, { headers: { authorization: 'Bearer secret-token-1' } })
      assert.equal(yes.status, 200)
      assert.equal((await fetch(`${w.url}/health`)).status, 200, 'health needs no token')
    } finally {
      await w.close()
    }
  })

  test('SIGTERM lets an in-flight generation finish, refuses new work, then exits 0', async () => {
    const w = await startWorker({ args: ['--ctx-size', '2048', '--grace-ms', '20000'] })
    const res = await fetch(`${w.url}/v1/infer`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ prompt: 'drain', max_tokens: 1500 }),
    })
    const events: InferEvent[] = []
    let refused: number | undefined
    for await (const m of readSse(res.body!)) {
      const e = InferEventSchema.parse(JSON.parse(m.data))
      events.push(e)
      if (e.type === 'token' && e.i === 0) {
        w.process.kill('SIGTERM')
        const r = await fetch(`${w.url}/v1/infer`, {
          method: 'POST',
          headers: json,
          body: '{"prompt":"late"}',
        })
        refused = r.status
      }
    }
    const end = events.at(-1)
    assert.ok(end?.type === 'end', JSON.stringify(end))
    assert.equal(end.stop_reason, 'length')
    assert.equal(end.tokens_out, 1500)
    assert.equal(refused, 503)
    const exit = await w.process.exited
    assert.equal(exit.code, 0)
  })

  test("heartbeats reach a stand-in queen, retried with backoff while it fails, with the worker's liveness and measured speed", async () => {
    const beats: unknown[] = []
    let requests = 0
    const queen = createServer((req: IncomingMessage, res) => {
      let body = ''
      req.on('data', (c) => {
        body += c
      })
      req.on('end', () => {
        requests++
        // The first two attempts fail: the worker must retry soon, not wait a whole interval.
        if (requests <= 2) {
          res.writeHead(500).end()
          return
        }
        beats.push({ url: req.url, auth: req.headers.authorization, body: JSON.parse(body) })
        res.writeHead(204).end()
      })
    })
    await new Promise<void>((r) => queen.listen(0, '127.0.0.1', r))
    const queenUrl = `http://127.0.0.1:${(queen.address() as AddressInfo).port}`
    const w = await startWorker({
      args: [
        '--queen-url',
        queenUrl,
        '--heartbeat-interval-ms',
        '60000',
        '--worker-id',
        'hb-worker',
        '--hive-id',
        'hive-a',
      ],
      env: { RBEE_NODE_TOKEN: 'node-secret' },
    })
    try {
      await waitFor('a heartbeat', () => beats.length >= 1, 10_000, 20)
      const first = beats[0] as { url: string; auth: string; body: unknown }
      assert.equal(first.url, '/v1/worker-heartbeat')
      assert.equal(first.auth, 'Bearer node-secret')
      const hb = WorkerHeartbeatSchema.parse(first.body)
      assert.equal(hb.worker.id, 'hb-worker')
      assert.equal(hb.worker.hive_id, 'hive-a')
      assert.equal(hb.worker.port, w.port)
      assert.equal(hb.worker.status, 'ready')
      assert.ok(requests >= 3)
      // Nothing served yet: no speed to report.
      assert.equal(hb.liveness?.tokens_per_s, null)
      assert.ok((hb.liveness?.event_loop_lag_ms ?? -1) >= 0)
      const res = await fetch(`${w.url}/v1/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: 'count with me', max_tokens: 16, temperature: 0 }),
      })
      assert.equal(res.status, 200, await res.clone().text())
      await res.text()
    } finally {
      await w.close()
      queen.close()
    }
    const last = WorkerHeartbeatSchema.parse((beats.at(-1) as { body: unknown }).body)
    assert.equal(last.worker.status, 'stopped', 'a last heartbeat says the worker stopped')
    // The queen derives its stall bounds from these.
    assert.ok((last.liveness?.prompt_tokens_per_s ?? 0) > 0, JSON.stringify(last.liveness))
    assert.ok((last.liveness?.tokens_per_s ?? 0) > 0, JSON.stringify(last.liveness))
  })
})

describe('a worker with every slot generating', () => {
  let w: StartedWorker
  before(async () => {
    w = await startWorker({ args: ['--slots', '4', '--ctx-size', '2048'] })
  })
  after(() => w.close())

  test('a request that arrives while three slots generate starts at once instead of waiting for them to end', async () => {
    // Every slot has been used, so a new request must first clear its slot's old tokens, which
    // node-llama-cpp does under the lock its batch loop holds while anything is generating.
    await Promise.all([0, 1, 2, 3].map((i) => infer(w.url, { prompt: `warm ${i}`, max_tokens: 4, seed: i })))
    const ac = new AbortController()
    const ended: boolean[] = []
    const firstTokens: Array<Promise<void>> = []
    const long = [0, 1, 2].map(async (i) => {
      const res = await fetch(`${w.url}/v1/infer`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ prompt: `long ${i}`, max_tokens: 1900, seed: i }),
        signal: ac.signal,
      })
      let sawToken!: () => void
      firstTokens.push(new Promise<void>((resolve) => (sawToken = resolve)))
      try {
        for await (const m of readSse(res.body!)) if (JSON.parse(m.data).type === 'token') sawToken()
      } catch {
        // aborted below
      }
      ended[i] = true
    })
    await waitFor('three streams started', () => firstTokens.length === 3, 10_000, 20)
    await Promise.all(firstTokens)
    const late = await infer(w.url, { prompt: 'a late request', max_tokens: 4, seed: 9 })
    const stillGenerating = [0, 1, 2].filter((i) => !ended[i]).length
    ac.abort()
    await Promise.all(long)
    assert.equal(late.at(-1)?.type, 'end')
    assert.equal(
      stillGenerating,
      3,
      'the late request was served while the three long ones were still generating',
    )
  })
})
