import assert from 'node:assert/strict'
import { request } from 'node:http'
import { after, before, describe, test } from 'node:test'
import { QueenClient } from '@rbee/client'
import { parseJson, readSse } from '@rbee/common'
import { metricValue, type StartedQueen, startQueen, waitFor } from '@rbee/testing'
import OpenAI from 'openai'
import { DEADLINE_GRACE_MS } from './proxy/request-deadline.js'

// One real queen-rbee with its local hive and real workers on the tiny model: one slot per
// worker, so a second request waits in the queue. Long contexts let a generation outlast every
// deadline here (the tiny model makes ~1000 tokens/s on one core).
describe('deadlines end to end (X-Request-Deadline, X-Request-Timeout, job timeouts)', () => {
  let queen: StartedQueen
  let client: QueenClient
  let openai: OpenAI
  const timeout = (s: number) => ({ headers: { 'x-request-timeout': String(s) } })
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${queen.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    })
  const worker = async () =>
    waitFor('a routable worker', async () => (await client.status()).workers.find((w) => w.routable), 20_000)
  /** Waits for the worker at `url` to report every slot free; resolves with how long it took. */
  const slotsFree = async (url: string): Promise<number> => {
    const t0 = Date.now()
    await waitFor(
      'the worker to report its slots free',
      async () =>
        ((await (await fetch(`${url}/v1/ready`)).json()) as { slots_busy: number }).slots_busy === 0,
      5000,
      10,
    )
    return Date.now() - t0
  }

  /** Takes the worker's only slot with a long stream until `release()`. */
  const hogTheSlot = async (): Promise<{ release: () => Promise<void> }> => {
    const ac = new AbortController()
    const busy = await openai.completions.create(
      { model: 'tiny', prompt: 'hog', max_tokens: 16000, stream: true },
      { signal: ac.signal },
    )
    const reading = (async () => {
      for await (const _ of busy);
    })().catch(() => {})
    return {
      release: async () => {
        ac.abort()
        await reading
      },
    }
  }

  before(async () => {
    queen = await startQueen({ args: ['--worker-slots', '1', '--worker-ctx-size', '16384'] })
    client = new QueenClient({ baseUrl: queen.url })
    openai = new OpenAI({ baseURL: `${queen.url}/v1`, apiKey: 'not-needed-on-loopback', maxRetries: 0 })
  })
  after(async () => {
    await client?.close()
    await queen?.close()
  })

  test('a deadline that passes while the first worker spawns: 504 RBEE_DEADLINE_EXCEEDED, on OpenAI routes and jobs alike, and the spawn goes on', async () => {
    const t0 = Date.now()
    const [chat, job] = await Promise.all([
      post(
        '/v1/chat/completions',
        { model: 'tiny', messages: [{ role: 'user', content: 'hi' }] },
        { 'x-request-timeout': '0.3' },
      ),
      client.infer({ prompt: 'hi', max_tokens: 4, timeout: 0.3 }).then((j) => j.collect()),
    ])
    assert.equal(chat.status, 504)
    const body = (await chat.json()) as { error: { code: string; message: string } }
    assert.equal(body.error.code, 'RBEE_DEADLINE_EXCEEDED')
    assert.match(body.error.message, /waited [\d.]+ s for a worker of tiny to start/)
    assert.equal(job.outcome, 'error')
    assert.match(
      job.message ?? '',
      // The job's own deadline and the queue's fire together; either says where it was.
      /^RBEE_DEADLINE_EXCEEDED: deadline exceeded: (the job did not finish within [\d.]+ s; last step: |waited [\d.]+ s for a worker of tiny to start)/,
    )
    assert.ok(Date.now() - t0 < 300 + DEADLINE_GRACE_MS, `answered after ${Date.now() - t0} ms`)
    // The spawn was not the requests' to cancel: the worker comes up for the next one.
    await worker()
    const m = await client.metrics()
    assert.equal(
      metricValue(m, 'rbee_queen_requests_total', { route: 'chat/completions', outcome: 'deadline' }),
      1,
    )
  })

  test('a malformed or past deadline header is a 400 naming it, on the fast lane, the HTTP routes and jobs', async () => {
    const chat = { model: 'tiny', messages: [{ role: 'user', content: 'x' }], max_tokens: 2 }
    const cases: Array<[string, unknown, Record<string, string>, RegExp]> = [
      [
        '/v1/completions',
        { model: 'tiny', prompt: 'x' },
        { 'x-request-timeout': 'soon' },
        /X-Request-Timeout/,
      ],
      ['/v1/chat/completions', chat, { 'x-request-deadline': '2001-01-01T00:00:00Z' }, /in the past/],
      ['/v1/chat/completions', chat, { 'x-request-deadline': '2030-01-01T00:00:00' }, /RFC 3339/],
      ['/v1/embeddings', { model: 'tiny', input: 'x' }, { 'x-request-timeout': '0' }, /more than 0/],
    ]
    for (const [path, body, headers, why] of cases) {
      const res = await post(path, body, headers)
      assert.equal(res.status, 400, path)
      const err = ((await res.json()) as { error: { param: string; message: string; code: string } }).error
      assert.equal(err.code, 'RBEE_VALIDATION')
      assert.equal(
        err.param,
        Object.keys(headers)[0] === 'x-request-timeout' ? 'X-Request-Timeout' : 'X-Request-Deadline',
      )
      assert.match(err.message, why)
    }
    const field0 = await post('/v1/completions', { model: 'tiny', prompt: 'x', timeout: 0 })
    assert.equal(field0.status, 400)
    assert.equal(((await field0.json()) as { error: { param: string } }).error.param, 'timeout')
    const job = await post('/v1/jobs', { operation: 'infer', prompt: 'x' }, { 'x-request-timeout': '-1' })
    assert.equal(job.status, 400)
    assert.match(((await job.json()) as { error: { message: string } }).error.message, /X-Request-Timeout/)
    const field = await post('/v1/jobs', { operation: 'infer', prompt: 'x', timeout: 'soon' })
    assert.equal(field.status, 400)
    assert.deepEqual(
      (
        (await field.json()) as { error: { details: { issues: Array<{ path: string }> } } }
      ).error.details.issues.map((i) => i.path),
      ['timeout'],
    )
    // A request with a well-formed deadline goes through the fast lane (on a new connection: one
    // the lane handed to the HTTP server stays there).
    const lane = (m: string) => metricValue(m, 'rbee_queen_fast_lane_requests_total')
    const before = lane(await client.metrics())
    const ok = await new Promise<number>((resolve, reject) => {
      const body = JSON.stringify({ model: 'tiny', prompt: 'x', max_tokens: 2 })
      request(
        `${queen.url}/v1/completions`,
        {
          method: 'POST',
          agent: false,
          headers: {
            'content-type': 'application/json',
            'content-length': body.length,
            'x-request-timeout': '30',
          },
        },
        (res) => res.resume().on('end', () => resolve(res.statusCode ?? 0)),
      )
        .on('error', reject)
        .end(body)
    })
    assert.equal(ok, 200)
    assert.equal(lane(await client.metrics()), before + 1)
  })

  test('a deadline that passes mid-stream: the worker stops generating, frees its slot, and the stream ends with an error frame saying why', async () => {
    const w = await worker()
    const t0 = Date.now()
    const stream = await openai.chat.completions.create(
      { model: 'tiny', messages: [{ role: 'user', content: 'go on' }], max_tokens: 16000, stream: true },
      timeout(1),
    )
    let chunks = 0
    await assert.rejects(
      async () => {
        for await (const _ of stream) chunks++
      },
      (err: unknown) => {
        assert.ok(err instanceof OpenAI.APIError, String(err))
        assert.equal(err.code, 'RBEE_DEADLINE_EXCEEDED')
        // The worker's own frame: the deadline travelled with the request and the worker enforced it.
        // The queen hands over what is left of the 1 s (0.98–1 s, after its own routing).
        const m =
          /the worker stopped at the request's deadline \((\d+(?:\.\d+)?) s after it arrived\) after \d+ tokens/.exec(
            err.message,
          )
        assert.ok(m, err.message)
        assert.ok(Number(m[1]) > 0.5 && Number(m[1]) <= 1, err.message)
        return true
      },
    )
    const took = Date.now() - t0
    assert.ok(chunks > 10, `${chunks} chunks before the deadline`)
    assert.ok(took >= 950 && took < 1000 + DEADLINE_GRACE_MS, `the stream ended after ${took} ms`)
    const freeAfter = await slotsFree(w.url)
    assert.ok(freeAfter < 500, `slot freed ${freeAfter} ms after the stream ended`)
  })

  test('a worker that cannot end the request at its deadline (frozen) is cut off by the queen: the stream still ends with the deadline frame', async () => {
    const w = await worker()
    const stream = await openai.completions.create(
      { model: 'tiny', prompt: 'go on', max_tokens: 16000, stream: true },
      timeout(1),
    )
    const t0 = Date.now()
    let frozen = false
    try {
      await assert.rejects(
        async () => {
          for await (const _ of stream) {
            if (!frozen) {
              frozen = true
              process.kill(w.pid!, 'SIGSTOP')
            }
          }
        },
        (err: unknown) => {
          assert.ok(err instanceof OpenAI.APIError, String(err))
          assert.equal(err.code, 'RBEE_DEADLINE_EXCEEDED')
          assert.match(err.message, /the worker did not end the request at its deadline; the queen ended it/)
          return true
        },
      )
      const took = Date.now() - t0
      assert.ok(took < 1000 + DEADLINE_GRACE_MS + 500, `the stream ended after ${took} ms`)
    } finally {
      process.kill(w.pid!, 'SIGCONT')
    }
    assert.ok((await slotsFree(w.url)) < 1000)
  })

  test('a deadline that passes during a whole answer, or while waiting in the queue behind a busy slot, is a 504', async () => {
    const w = await worker()
    const whole = await post(
      '/v1/completions',
      { model: 'tiny', prompt: 'go', max_tokens: 16000 },
      { 'x-request-deadline': new Date(Date.now() + 700).toISOString() },
    )
    assert.equal(whole.status, 504)
    assert.match(((await whole.json()) as { error: { message: string } }).error.message, /the worker stopped/)
    assert.ok((await slotsFree(w.url)) < 500)

    // The only slot is busy with a long stream: the next request waits in the queue until its deadline.
    const hog = await hogTheSlot()
    try {
      const t0 = Date.now()
      // rbee's `timeout` extension of OpenAI bodies, in seconds.
      const queued = await post('/v1/completions', {
        model: 'tiny',
        prompt: 'x',
        max_tokens: 2,
        timeout: 0.5,
      })
      assert.equal(queued.status, 504)
      assert.match(
        ((await queued.json()) as { error: { message: string } }).error.message,
        /waited [\d.]+ s in the queue for tiny \(position 1 of 1\): no slot became free/,
      )
      const took = Date.now() - t0
      assert.ok(took >= 480 && took < 1500, `answered after ${took} ms`)
    } finally {
      await hog.release()
    }
  })

  test('a streamed request that asks for progress (X-Rbee-Progress: 1) hears its queue position as SSE comments, which the official openai client skips', async () => {
    const hog = await hogTheSlot()
    try {
      // Raw: the stream opens with the position, and the deadline that passes in the queue is its
      // last frame (the status was sent with the first comment).
      const raw = await post(
        '/v1/completions',
        { model: 'tiny', prompt: 'x', max_tokens: 2, stream: true },
        { 'x-rbee-progress': '1', 'x-request-timeout': '0.4' },
      )
      assert.equal(raw.status, 200)
      const text = await raw.text()
      assert.match(text, /^: queued: position 1 of 1\n\n/)
      assert.match(
        text,
        /data: \{"error":\{"message":"deadline exceeded: waited [\d.]+ s in the queue for tiny[^\n]*"code":"RBEE_DEADLINE_EXCEEDED"/,
      )
      const bad = await post(
        '/v1/completions',
        { model: 'tiny', prompt: 'x', stream: true },
        { 'x-rbee-progress': 'yes' },
      )
      assert.equal(bad.status, 400)
      assert.equal(((await bad.json()) as { error: { param: string } }).error.param, 'X-Rbee-Progress')
      // A whole answer has no stream to carry the news: refused by name, not ignored.
      const whole = await post('/v1/completions', { model: 'tiny', prompt: 'x' }, { 'x-rbee-progress': '1' })
      assert.equal(whole.status, 400)
      assert.match(
        ((await whole.json()) as { error: { message: string } }).error.message,
        /only a streamed request/,
      )

      // The openai client: the stream opens while queued, and the tokens follow once the slot frees.
      const stream = await openai.chat.completions.create(
        { model: 'tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, stream: true },
        { headers: { 'X-Rbee-Progress': '1' } },
      )
      await hog.release()
      let content = ''
      let finish: string | null = null
      for await (const chunk of stream) {
        content += chunk.choices[0]?.delta.content ?? ''
        finish = chunk.choices[0]?.finish_reason ?? finish
      }
      assert.ok(content.length > 0)
      assert.ok(finish === 'length' || finish === 'stop', String(finish))
    } finally {
      await hog.release()
    }
  })

  test('an infer job past its timeout mid-generation ends with [ERROR] RBEE_DEADLINE_EXCEEDED and frees the slot; the worker takes a timeout in its native body too', async () => {
    const w = await worker()
    const job = await client.infer({ prompt: 'a long story', max_tokens: 16000, timeout: 0.8 })
    const out = await job.collect()
    assert.equal(out.outcome, 'error')
    assert.ok(out.tokens > 10, `${out.tokens} tokens`)
    assert.match(out.message ?? '', /^RBEE_DEADLINE_EXCEEDED: deadline exceeded: .*\d+ tokens/)
    assert.ok((await slotsFree(w.url)) < 500)

    // Straight to the worker (no keys on loopback): `timeout` in its native body.
    const res = await fetch(`${w.url}/v1/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'go', max_tokens: 16000, timeout: 0.3 }),
    })
    const events: Array<{ event: string; data: { code?: string } }> = []
    for await (const m of readSse(res.body!))
      events.push({ event: m.event, data: parseJson(m.data) as { code?: string } })
    assert.equal(events.at(-1)?.event, 'error')
    assert.equal(events.at(-1)?.data.code, 'RBEE_DEADLINE_EXCEEDED')
    assert.ok(events.some((e) => e.event === 'token'))
  })
})
