import assert from 'node:assert/strict'
import { once } from 'node:events'
import { connect } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { QueenClient } from '@rbee/client'
import { deferred } from '@rbee/common'
import type { FleetStatus, QueenStreamEvent } from '@rbee/contracts'
import { largestUnreadAt, metricValue, type StartedQueen, startQueen, waitFor } from '@rbee/testing'
import OpenAI from 'openai'

// One real queen-rbee with no hive configured: it runs its own hive in-process, which spawns real
// llm-worker-rbee processes on the built-in tiny model. Tests run in order and share it; the
// ones that kill workers come last. The same table runs twice (see the end): with the fast lane
// and the raw worker transport (the default), and with fastify and undici only
// (RBEE_QUEEN_TRANSPORT=undici), so both ways of serving OpenAI completions answer alike.
const zeroConfig = (transport: 'raw' | 'undici') => (): void => {
  /** Requests the fast lane served, of `n` it would take: none without it. */
  const laneServed = (n: number): number => (transport === 'raw' ? n : 0)
  let queen: StartedQueen
  let client: QueenClient
  let openai: OpenAI
  /** Pids of workers this suite killed: the registry may list one for a moment after. */
  const dead = new Set<number>()
  const kill = (pid: number): void => {
    dead.add(pid)
    process.kill(pid, 'SIGKILL')
  }
  const live = (w: { routable: boolean; pid: number | null }): boolean =>
    w.routable && w.pid !== null && !dead.has(w.pid)

  before(async () => {
    // A small body limit, so the 413 case needs no multi-megabyte upload.
    // Long contexts: the generations that a test kills or leaves must outlast the kill even when
    // the whole answer of the tiny model would fit in the socket buffers before the client reads.
    queen = await startQueen({
      args: ['--body-limit', '262144', '--worker-ctx-size', '16384'],
      env: { RBEE_QUEEN_TRANSPORT: transport },
    })
    client = new QueenClient({ baseUrl: queen.url })
    openai = new OpenAI({ baseURL: `${queen.url}/v1`, apiKey: 'not-needed-on-loopback', maxRetries: 0 })
  })
  after(async () => {
    await client?.close()
    await queen?.close()
  })

  /** Waits for the worker at `url` to report every slot free, at most `ms` after `t0`. */
  const slotsFreeWithin = async (url: string, t0: number, ms: number): Promise<void> => {
    await waitFor(
      'the worker to report its slots free',
      async () => {
        const r = (await (await fetch(`${url}/v1/ready`)).json()) as { slots_busy: number }
        return r.slots_busy === 0
      },
      2 * ms,
      10,
    )
    assert.ok(Date.now() - t0 < ms, `slot freed after ${Date.now() - t0} ms`)
  }
  const status = (): Promise<FleetStatus> => client.status()
  const onlyWorker = async () => {
    const s = await status()
    const w = s.workers.find(live)
    assert.ok(w, `no routable worker with a pid: ${JSON.stringify(s.workers)}`)
    return w
  }

  test('queen-rbee alone serves tiny, and ten concurrent first requests cause one spawn', async () => {
    assert.ok(queen.localHive, 'the local hive runs')
    const before = await status()
    assert.equal(before.workers.length, 0)
    assert.deepEqual(
      before.hives.map((h) => [h.id, h.source, h.online]),
      [[queen.localHive, 'local', true]],
    )
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        openai.chat.completions.create({
          model: 'tiny',
          messages: [{ role: 'user', content: `hello ${i}` }],
          max_tokens: 8,
          temperature: 0,
        }),
      ),
    )
    for (const a of answers) {
      assert.equal(a.object, 'chat.completion')
      // The tiny model's output is noise and may hit end-of-sequence early.
      assert.ok(a.usage!.completion_tokens >= 1 && a.usage!.completion_tokens <= 8)
    }
    const metrics = await client.metrics()
    assert.equal(
      metricValue(metrics, 'rbee_queen_spawn_duration_seconds_count', { model: 'tiny', outcome: 'ok' }),
      1,
    )
    assert.equal(
      metricValue(metrics, 'rbee_queen_requests_total', { route: 'chat/completions', outcome: 'ok' }),
      10,
    )
    const after = await status()
    assert.equal(after.workers.length, 1)
    assert.equal(after.workers[0]?.hive_id, queen.localHive)
  })

  test('the official openai client streams through the queen token by token', async () => {
    const stream = await openai.chat.completions.create({
      model: 'tiny',
      messages: [{ role: 'user', content: 'tell me a story' }],
      max_tokens: 24,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    })
    const pieces: string[] = []
    let finish: string | null = null
    let usage: number | undefined
    for await (const chunk of stream) {
      const c = chunk.choices[0]
      if (c?.delta.content) pieces.push(c.delta.content)
      if (c?.finish_reason) finish = c.finish_reason
      if (chunk.usage) usage = chunk.usage.completion_tokens
    }
    assert.ok(pieces.length >= 2, `got ${pieces.length} content chunks`)
    assert.ok(finish === 'length' || finish === 'stop', String(finish))
    assert.ok(usage !== undefined && usage >= pieces.length - 1 && usage <= 24, `usage ${usage}`)

    const completion = await openai.completions.create({ model: 'tiny', prompt: 'Once upon', max_tokens: 5 })
    assert.equal(completion.choices[0]?.finish_reason, 'length')
    const embedding = await openai.embeddings.create({ model: 'tiny', input: ['a', 'b'] })
    assert.equal(embedding.data.length, 2)
    const models = await openai.models.list()
    const tiny = models.data.find((m) => m.id === 'tiny') as { loaded?: boolean } | undefined
    assert.equal(tiny?.loaded, true)
  })

  test('completions, streamed or not, pipelined and split however, are answered in order with everything else on the connection (on the fast lane where there is one)', async () => {
    const lane = async (): Promise<number> =>
      metricValue(await (await fetch(`${queen.url}/metrics`)).text(), 'rbee_queen_fast_lane_requests_total')
    const port = Number(new URL(queen.url).port)
    const request = (path: string, body?: unknown, headers = ''): string => {
      const text = body === undefined ? '' : JSON.stringify(body)
      return `${body === undefined ? 'GET' : 'POST'} ${path} HTTP/1.1\r\nhost: q\r\ncontent-type: application/json\r\n${headers}content-length: ${Buffer.byteLength(text)}\r\n\r\n${text}`
    }
    /** Writes `pieces` one event-loop turn apart on one connection; resolves with all it read until the queen closed it. */
    const exchange = async (pieces: string[]): Promise<string> => {
      const socket = connect({ port, host: '127.0.0.1' })
      const chunks: Buffer[] = []
      socket.on('data', (d) => chunks.push(d))
      const ended = once(socket, 'end')
      await once(socket, 'connect')
      for (const p of pieces) {
        socket.write(p)
        await new Promise(setImmediate)
      }
      await ended
      socket.destroy()
      return Buffer.concat(chunks).toString('utf8')
    }
    const streamed = { model: 'tiny', prompt: 'Once upon', max_tokens: 4, stream: true }
    const before = await lane()

    // Three requests written at once: the lane serves the first, then meets a GET and hands the
    // connection, with the bytes of the other two, to the HTTP server, which answers both.
    const pipelined = await exchange([
      request('/v1/completions', streamed) +
        request('/v1/models') +
        request('/v1/completions', streamed, 'connection: close\r\n'),
    ])
    assert.equal(pipelined.match(/HTTP\/1\.1 200 OK\r\n/g)?.length, 3, pipelined)
    assert.equal(pipelined.match(/data: \[DONE\]/g)?.length, 2, pipelined)
    assert.match(pipelined, /"object":"list"/)
    assert.equal(await lane(), before + laneServed(1))

    // A head and body cut into 7-byte pieces, then an answer for an unknown model: both served
    // by the lane (the error in OpenAI's shape); the last, invalid, goes to the HTTP server.
    const cut = request('/v1/completions', streamed)
    const pieces = Array.from({ length: Math.ceil(cut.length / 7) }, (_, i) => cut.slice(i * 7, i * 7 + 7))
    const split = await exchange([
      ...pieces,
      request('/v1/chat/completions', {
        model: 'no-such-model',
        messages: [{ role: 'user', content: 'x' }],
        stream: true,
      }),
      request('/v1/completions', { ...streamed, temperature: 9 }, 'connection: close\r\n'),
    ])
    const answers = split.split(/(?=HTTP\/1\.1 \d{3} )/)
    assert.equal(answers.length, 3, split)
    assert.match(
      answers[0]!,
      /^HTTP\/1\.1 200 OK\r\n[\s\S]*content-type: text\/event-stream[\s\S]*data: \[DONE\]/,
    )
    assert.match(
      answers[1]!,
      /^HTTP\/1\.1 404 Not Found\r\n[\s\S]*no-such-model[\s\S]*"type":"not_found_error"/,
    )
    assert.match(answers[2]!, /^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*"param":"temperature"/)
    assert.equal(await lane(), before + laneServed(3))

    // Non-streamed requests, two written at once: whole answers with their length, kept alive
    // between them, and their tokens counted.
    const tokensBefore = metricValue(
      await (await fetch(`${queen.url}/metrics`)).text(),
      'rbee_queen_tokens_total',
      { model: 'tiny' },
    )
    const whole = { model: 'tiny', prompt: 'Once upon', max_tokens: 3 }
    const wholes = await exchange([
      request('/v1/completions', whole) +
        request(
          '/v1/chat/completions',
          { model: 'tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 },
          'connection: close\r\n',
        ),
    ])
    const [first, second] = wholes.split(/(?=HTTP\/1\.1 \d{3} )/)
    let used = 0
    for (const [answer, object] of [
      [first, 'text_completion'],
      [second, 'chat.completion'],
    ] as const) {
      const m = /^HTTP\/1\.1 200 OK\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(answer ?? '')
      assert.ok(m, wholes)
      assert.match(m[1]!, /content-type: application\/json/i)
      assert.equal(Number(/content-length: (\d+)/i.exec(m[1]!)?.[1]), Buffer.byteLength(m[2]!))
      const body = JSON.parse(m[2]!) as { object: string; usage: { completion_tokens: number } }
      assert.equal(body.object, object)
      used += body.usage.completion_tokens
    }
    assert.equal(await lane(), before + laneServed(5))
    const tokensAfter = metricValue(
      await (await fetch(`${queen.url}/metrics`)).text(),
      'rbee_queen_tokens_total',
      { model: 'tiny' },
    )
    assert.equal(tokensAfter - tokensBefore, used)
  })

  test('an infer job streams tokens and says where it ran', async () => {
    const job = await client.infer({ model: 'tiny', prompt: 'hello', max_tokens: 12, temperature: 0 })
    const out = await job.collect()
    assert.equal(out.outcome, 'done')
    assert.ok(out.tokens >= 1 && out.tokens <= 12)
    assert.ok(out.narration.some((n) => n.action === 'dispatch' && /running on worker/.test(n.human)))
    const result = out.data.find((d) => d.action === 'infer')?.payload as {
      tokens_out: number
      worker_id: string
    }
    assert.equal(result.tokens_out, out.tokens)
  })

  test('bad bodies get a 400 naming the field, in OpenAI shape on OpenAI routes', async () => {
    const post = (path: string, body: string) =>
      fetch(`${queen.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    const chat = await post(
      '/v1/chat/completions',
      JSON.stringify({ model: 'tiny', messages: [], temperature: 9 }),
    )
    assert.equal(chat.status, 400)
    const chatBody = (await chat.json()) as { error: { type: string; param: string; message: string } }
    assert.equal(chatBody.error.type, 'invalid_request_error')
    assert.match(chatBody.error.message, /messages/)
    assert.match(chatBody.error.message, /temperature/)

    const job = await post('/v1/jobs', JSON.stringify({ operation: 'infer', prompt: '', top_p: 0 }))
    assert.equal(job.status, 400)
    const jobBody = (await job.json()) as {
      error: { code: string; details: { issues: Array<{ path: string }> } }
    }
    assert.equal(jobBody.error.code, 'RBEE_VALIDATION')
    assert.deepEqual(jobBody.error.details.issues.map((i) => i.path).sort(), ['prompt', 'top_p'])

    const malformed = await post('/v1/completions', '{"model": "tiny",')
    assert.equal(malformed.status, 400)
    const huge = await post('/v1/completions', JSON.stringify({ model: 'tiny', prompt: 'x'.repeat(300_000) }))
    assert.equal(huge.status, 413)
    const heartbeat = await post(
      '/v1/worker-heartbeat',
      JSON.stringify({ worker: { id: '../x' }, timestamp: 'now' }),
    )
    assert.equal(heartbeat.status, 400)
    const unknownModel = await post(
      '/v1/completions',
      JSON.stringify({ model: 'no-such-model', prompt: 'x' }),
    )
    assert.equal(unknownModel.status, 404)
    assert.match(
      ((await unknownModel.json()) as { error: { message: string } }).error.message,
      /no-such-model/,
    )
  })

  test('a client that disconnects mid-stream frees the worker slot at once', async () => {
    const w = await onlyWorker()
    const stream = await openai.chat.completions.create({
      model: 'tiny',
      messages: [{ role: 'user', content: 'go' }],
      max_tokens: 16000,
      temperature: 0,
      stream: true,
    })
    let n = 0
    // Leaving the loop makes the openai client abort its request: the client is gone.
    for await (const _ of stream) if (++n === 3) break
    const t0 = Date.now()
    await slotsFreeWithin(w.url, t0, 1000)
    const m = await client.metrics()
    assert.equal(
      metricValue(m, 'rbee_queen_requests_total', { route: 'chat/completions', outcome: 'cancelled' }),
      1,
    )
  })

  test('a client that closes its side of the connection after a streamed request is gone too', async () => {
    const w = await onlyWorker()
    const socket = connect({ port: Number(new URL(queen.url).port), host: '127.0.0.1' })
    await once(socket, 'connect')
    const body = JSON.stringify({
      model: 'tiny',
      prompt: 'go',
      max_tokens: 16000,
      temperature: 0,
      stream: true,
    })
    socket.write(
      `POST /v1/completions HTTP/1.1\r\nhost: q\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
    )
    await once(socket, 'data')
    const closed = once(socket, 'close')
    socket.resume()
    // Half-close, as a client that is done talking does; node:http also takes it as the end.
    socket.end()
    const t0 = Date.now()
    await closed
    await slotsFreeWithin(w.url, t0, 1000)
    const m = await client.metrics()
    assert.equal(
      metricValue(m, 'rbee_queen_requests_total', { route: 'completions', outcome: 'cancelled' }),
      1,
    )
  })

  test('the aggregated heartbeat stream reports the fleet with correct counts', async () => {
    const seen: QueenStreamEvent[] = []
    const got = deferred<void>()
    const sub = client.heartbeats({
      onEvent: (ev) => {
        seen.push(ev)
        if (seen.some((e) => e.type === 'queen') && seen.some((e) => e.type === 'telemetry')) got.resolve()
      },
    })
    try {
      await Promise.race([got.promise, waitFor('never', () => false, 5000)])
    } finally {
      await sub.close()
    }
    const summary = seen.find((e) => e.type === 'queen')
    assert.ok(summary?.type === 'queen')
    assert.equal(summary.hives_online, 1)
    assert.equal(summary.hives_total, 1)
    assert.equal(summary.workers_total, 1)
    assert.equal(summary.workers_ready + summary.workers_busy, 1)
    const tele = seen.find((e) => e.type === 'telemetry')
    assert.ok(tele?.type === 'telemetry')
    assert.equal(tele.worker_infos.length, 1)
  })

  test('metrics cover requests, tokens, time to first token, queue depth, workers and hives', async () => {
    const m = await client.metrics()
    for (const name of [
      'rbee_queen_requests_total',
      'rbee_queen_tokens_total',
      'rbee_queen_time_to_first_token_seconds_bucket',
      'rbee_queen_queue_depth',
      'rbee_queen_workers',
      'rbee_queen_hive_up',
      'rbee_queen_spawn_duration_seconds_bucket',
    ]) {
      assert.match(m, new RegExp(`^# (HELP|TYPE) ${name.replace(/_bucket$/, '')} `, 'm'), name)
    }
    assert.ok(metricValue(m, 'rbee_queen_tokens_total', { model: 'tiny' }) > 50)
    assert.equal(metricValue(m, 'rbee_queen_hive_up', { hive: queen.localHive! }), 1)
  })

  test('a worker killed before its first token: the request still succeeds elsewhere', async () => {
    const w = await onlyWorker()
    // Frozen, the worker still accepts the connection (the kernel does) but never answers, so
    // the kill below lands after dispatch and before any token.
    process.kill(w.pid!, 'SIGSTOP')
    let killed = false
    try {
      const job = await client.infer({
        model: 'tiny',
        prompt: 'survive this',
        max_tokens: 10,
        temperature: 0,
      })
      const out = await job.collect((ev) => {
        if (!killed && ev.kind === 'narration' && ev.narration.action === 'dispatch') {
          assert.match(ev.narration.human, new RegExp(w.id))
          killed = true
          kill(w.pid!)
        }
      })
      assert.equal(out.outcome, 'done', out.message ?? '')
      assert.ok(out.tokens >= 1)
      assert.ok(
        out.narration.some((n) => n.action === 'retry'),
        'the retry is narrated',
      )
      const dispatches = out.narration.filter((n) => n.action === 'dispatch')
      assert.equal(dispatches.length, 2)
    } finally {
      if (!killed) {
        process.kill(w.pid!, 'SIGCONT')
      }
    }
    const m = await client.metrics()
    assert.equal(metricValue(m, 'rbee_queen_retries_total', { reason: 'worker_failed' }), 1)
  })

  test('a worker killed before its whole answer: the non-streamed request still succeeds elsewhere', async () => {
    const w = await waitFor(
      'a routable worker again',
      async () => (await status()).workers.find(live),
      20_000,
    )
    const port = Number(new URL(w.url).port)
    process.kill(w.pid!, 'SIGSTOP')
    let killed = false
    try {
      const answer = openai.completions.create({ model: 'tiny', prompt: 'survive this too', max_tokens: 4 })
      // Frozen, the worker cannot read the request: it waits in its socket until the kill.
      // (A POST of a few hundred bytes; the hive's probes of the frozen worker are ~70 each.)
      await waitFor(
        'the request to reach the frozen worker',
        async () => largestUnreadAt(port) > 150,
        10_000,
        5,
      )
      kill(w.pid!)
      killed = true
      const completion = await answer
      assert.equal(completion.object, 'text_completion')
      assert.ok(completion.usage!.completion_tokens >= 1)
    } finally {
      if (!killed) process.kill(w.pid!, 'SIGCONT')
    }
    const m = await client.metrics()
    assert.equal(metricValue(m, 'rbee_queen_retries_total', { reason: 'worker_failed' }), 2)
  })

  test('a worker killed mid-stream: the client gets a clean error, not a hang', async () => {
    const w = await waitFor(
      'a routable worker again',
      async () => (await status()).workers.find(live),
      20_000,
    )
    const stream = await openai.chat.completions.create({
      model: 'tiny',
      messages: [{ role: 'user', content: 'a long one' }],
      max_tokens: 16000,
      temperature: 0,
      stream: true,
    })
    let chunks = 0
    await assert.rejects(
      async () => {
        for await (const _ of stream) if (++chunks === 5) kill(w.pid!)
      },
      (err: unknown) => {
        assert.ok(err instanceof OpenAI.APIError, String(err))
        assert.match(err.message, /failed mid-stream after \d+ tokens/)
        return true
      },
    )
    assert.ok(chunks >= 5)
    // The same through the jobs API: tokens, then an [ERROR] end.
    const next = await waitFor(
      'a routable worker again',
      async () => (await status()).workers.find(live),
      20_000,
    )
    const job = await client.infer({ model: 'tiny', prompt: 'again', max_tokens: 16000, temperature: 0 })
    const out = await job.collect((ev) => {
      if (ev.kind === 'token' && ev.token.i === 3) kill(next.pid!)
    })
    assert.equal(out.outcome, 'error')
    assert.match(out.message ?? '', /failed mid-stream after \d+ tokens/)
  })
}

describe('queen-rbee on one machine (zero config), fast lane', zeroConfig('raw'))
describe('queen-rbee on one machine (zero config), fastify and undici only', zeroConfig('undici'))
