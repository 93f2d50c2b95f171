import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import {
  Authenticator,
  createHttpServer,
  deferred,
  type HttpServer,
  RbeeError,
  ROUTE_ACCESS,
  SseWriter,
  silentLogger,
} from '@rbee/common'
import { type HiveStreamEvent, HiveStreamEventSchema } from '@rbee/contracts'
import { HiveClient } from './hive-client.js'
import { QueenClient } from './queen-client.js'

const NOW = '2026-11-27T10:00:00.000Z'
const exited: HiveStreamEvent = {
  type: 'worker_exited',
  hive_id: 'h1',
  timestamp: NOW,
  worker_id: 'w1',
  pid: 10,
  port: 4000,
  exit_code: 0,
  signal: null,
  expected: true,
  restarting: false,
  reason: 'stopped',
}

// A small server speaking the wire protocol, to test the client's transport on real sockets.
describe('typed client', () => {
  let server: HttpServer
  let url: string
  let heartbeatConnects = 0
  const lastEventIds: Array<string | undefined> = []

  before(async () => {
    server = createHttpServer({
      logger: silentLogger(),
      auth: new Authenticator({ userKeys: ['secret-token'] }),
    })
    const app = server.app
    app.get('/v1/info', ROUTE_ACCESS.user, async () => ({ service: 'queen-rbee', version: 'x' }))
    app.post('/v1/jobs', ROUTE_ACCESS.user, async () => {
      throw new RbeeError('RBEE_QUEUE_FULL', 'queue for tiny is full', { retryAfterS: 3 })
    })
    app.get<{ Params: { id: string } }>('/v1/jobs/:id/stream', ROUTE_ACCESS.user, (req, reply) => {
      reply.hijack()
      lastEventIds.push(req.headers['last-event-id'] as string | undefined)
      const sse = new SseWriter(reply.raw, { keepAliveMs: 0 })
      const narration = { actor: 'queen-rbee', action: 'a', human: 'hello', job_id: req.params.id, ts: NOW }
      if (req.headers['last-event-id'] === undefined) {
        sse.send({ event: 'narration', id: 0, data: narration })
        sse.send({ event: 'token', id: 1, data: { t: 'Hel', i: 0 } })
        // Drop the connection mid-job: the client must resume after event 1.
        setImmediate(() => reply.raw.destroy())
        return
      }
      sse.send({ event: 'token', id: 2, data: { t: 'lo', i: 1 } })
      sse.send({ event: 'data', id: 3, data: { action: 'result', payload: { n: 7 } } })
      sse.send({ event: 'end', id: 4, data: '[DONE]' })
      sse.close()
    })
    app.get('/v1/heartbeats/stream', ROUTE_ACCESS.user, (_req, reply) => {
      reply.hijack()
      heartbeatConnects++
      const sse = new SseWriter(reply.raw, { keepAliveMs: 0 })
      sse.send({ event: 'bogus', data: { type: 'nope' } })
      sse.send({ event: 'worker_exited', data: exited })
      // Every other connection goes quiet instead of closing, to exercise the idle timeout.
      if (heartbeatConnects % 2 === 1) sse.close()
    })
    const port = await server.listen('127.0.0.1', 0)
    url = `http://127.0.0.1:${port}`
  })
  after(() => server.close())

  test('a server error arrives as an RbeeError with the server code, status and Retry-After', async () => {
    const queen = new QueenClient({ baseUrl: url, token: 'secret-token' })
    after(() => queen.close())
    await assert.rejects(queen.infer({ prompt: 'hi' }), (e: unknown) => {
      assert.ok(e instanceof RbeeError)
      assert.equal(e.code, 'RBEE_QUEUE_FULL')
      assert.equal(e.status, 429)
      assert.equal(e.retryAfterS, 3)
      return true
    })
  })

  test('a wrong token is RBEE_UNAUTHORIZED and a bad operation fails locally with field paths', async () => {
    const queen = new QueenClient({ baseUrl: url, token: 'wrong' })
    after(() => queen.close())
    await assert.rejects(
      queen.info(),
      (e: unknown) => e instanceof RbeeError && e.code === 'RBEE_UNAUTHORIZED',
    )
    await assert.rejects(
      queen.infer({ prompt: '', temperature: 9 }),
      (e: unknown) => e instanceof RbeeError && e.code === 'RBEE_VALIDATION' && /temperature/.test(e.message),
    )
  })

  test('an answer that breaks the contract is RBEE_UPSTREAM naming the field', async () => {
    const queen = new QueenClient({ baseUrl: url, token: 'secret-token' })
    after(() => queen.close())
    await assert.rejects(
      queen.info(),
      (e: unknown) => e instanceof RbeeError && e.code === 'RBEE_UPSTREAM' && /uptime_s/.test(e.message),
    )
  })

  test('a server that is not running is RBEE_UNREACHABLE', async () => {
    const dead = createHttpServer({ logger: silentLogger() })
    const port = await dead.listen('127.0.0.1', 0)
    await dead.close()
    const hive = new HiveClient({ baseUrl: `http://127.0.0.1:${port}` })
    after(() => hive.close())
    await assert.rejects(
      hive.health(),
      (e: unknown) => e instanceof RbeeError && e.code === 'RBEE_UNREACHABLE',
    )
  })

  test('a job stream that drops resumes with Last-Event-ID and loses or repeats nothing', async () => {
    const queen = new QueenClient({ baseUrl: url, token: 'secret-token' })
    after(() => queen.close())
    const out = await queen.stream('job-1').collect()
    assert.equal(out.outcome, 'done')
    assert.equal(out.text, 'Hello')
    assert.equal(out.tokens, 2)
    assert.deepEqual(out.data, [{ action: 'result', payload: { n: 7 } }])
    assert.equal(out.narration[0]?.human, 'hello')
    assert.deepEqual(lastEventIds.slice(-2), [undefined, '1'])
  })

  test('a heartbeat subscription validates events and reconnects after a close and after going quiet', async () => {
    const hive = new HiveClient({ baseUrl: url, token: 'secret-token' })
    after(() => hive.close())
    const events: HiveStreamEvent[] = []
    const invalid: string[] = []
    const disconnects: string[] = []
    const enough = deferred<void>()
    const sub = hive.heartbeats({
      idleTimeoutMs: 200,
      backoff: { initialMs: 10, maxMs: 50 },
      onEvent: (ev) => {
        events.push(HiveStreamEventSchema.parse(ev))
        if (events.length === 3) enough.resolve()
      },
      onInvalid: (r) => invalid.push(r),
      onDisconnect: (r) => disconnects.push(r),
    })
    await enough.promise
    await sub.close()
    assert.equal(events[0]?.type, 'worker_exited')
    assert.ok(
      invalid.some((r) => r.startsWith('bogus')),
      invalid.join(),
    )
    assert.ok(disconnects.includes('stream ended'), disconnects.join())
    assert.ok(disconnects.includes('nothing received for 200 ms'), disconnects.join())
    assert.equal(sub.connected, false)
  })
})
