import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import {
  Authenticator,
  createHttpServer,
  formatSse,
  type HttpServer,
  RbeeError,
  ROUTE_ACCESS,
  silentLogger,
} from '@rbee/common'
import { HttpClient } from './http-client.js'
import { JobStream } from './job-stream.js'

// A small server speaking the job stream's wire protocol on a real socket: a narration, then
// only keep-alive comments for a while (a quiet job), then a token, then nothing at all (a
// server that stopped answering with the connection still open).
const NOW = '2026-11-27T10:00:00.000Z'
const BOUND_MS = 300
let server: HttpServer
let url: string
const timers = new Set<NodeJS.Timeout>()
let tokenSentAt = 0

before(async () => {
  server = createHttpServer({ logger: silentLogger(), auth: new Authenticator({}) })
  server.app.get<{ Params: { id: string } }>('/v1/jobs/:id/stream', ROUTE_ACCESS.public, (req, reply) => {
    reply.hijack()
    const res = reply.raw
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    const narration = {
      actor: 'queen-rbee',
      action: 'queued',
      human: 'waiting',
      job_id: req.params.id,
      ts: NOW,
    }
    res.write(formatSse({ event: 'narration', id: 0, data: narration }))
    // Keep-alives only, for three times the client's bound.
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), BOUND_MS / 3)
    timers.add(keepAlive)
    const quiet = setTimeout(() => {
      clearInterval(keepAlive)
      tokenSentAt = performance.now()
      res.write(formatSse({ event: 'token', id: 1, data: { t: 'Hel', i: 0 } }))
    }, 3 * BOUND_MS)
    timers.add(quiet)
    res.on('close', () => {
      clearInterval(keepAlive)
      clearTimeout(quiet)
    })
  })
  const port = await server.listen('127.0.0.1', 0)
  url = `http://127.0.0.1:${port}`
})

after(async () => {
  for (const t of timers) clearTimeout(t)
  await server?.close()
})

test('a job stream kept alive by comments goes on; one silent past its bound ends with RBEE_STREAM_STALLED naming the server', async () => {
  const http = new HttpClient({ baseUrl: url, name: 'queen-rbee', streamIdleTimeoutMs: BOUND_MS })
  try {
    const seen: string[] = []
    const err = await new JobStream(http, 'job-1')
      .collect((ev) => seen.push(ev.kind))
      .then(
        () => undefined,
        (e: unknown) => e,
      )
    const endedAt = performance.now()
    assert.deepEqual(seen, ['narration', 'token'], 'the keep-alive stretch did not end the stream')
    assert.ok(err instanceof RbeeError, String(err))
    assert.equal(err.code, 'RBEE_STREAM_STALLED')
    assert.match(
      err.message,
      /^queen-rbee stopped answering: nothing arrived on the stream of job job-1 for 0\.\d s/,
    )
    const after = endedAt - tokenSentAt
    assert.ok(
      after >= BOUND_MS - 20 && after < BOUND_MS + 700,
      `ended ${Math.round(after)} ms after the last byte`,
    )
  } finally {
    await http.close()
  }
})
