import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import {
  createHttpServer,
  deferred,
  type HttpServer,
  MAX_JSON_DEPTH,
  RbeeError,
  ROUTE_ACCESS,
  silentLogger,
} from '@rbee/common'
import { HiveClient } from './hive-client.js'
import { QueenClient } from './queen-client.js'

// A peer that answers with JSON nested far deeper than any real answer: what a broken or hostile
// hive or queen could send. Parsing it does not overflow, but printing, relaying or logging it
// (JSON.stringify, a template string of an array) does.
const deep = '['.repeat(200_000) + ']'.repeat(200_000)
const tooDeep = new RegExp(`deeper than ${MAX_JSON_DEPTH} levels`)

describe('JSON from peers', () => {
  let server: HttpServer
  let url: string

  before(async () => {
    server = createHttpServer({ logger: silentLogger() })
    const app = server.app
    app.get('/v1/capabilities', ROUTE_ACCESS.public, (_req, reply) => {
      reply.header('content-type', 'application/json').send(`{"devices":${deep}}`)
    })
    app.get('/health', ROUTE_ACCESS.public, (_req, reply) => {
      reply.code(500).header('content-type', 'application/json')
      reply.send(`{"error":{"code":"RBEE_INTERNAL","message":"boom","details":${deep}}}`)
    })
    app.get('/v1/jobs/:id/stream', ROUTE_ACCESS.public, (_req, reply) => {
      reply.hijack()
      reply.raw.writeHead(200, { 'content-type': 'text/event-stream' })
      reply.raw.end(`event: data\nid: 0\ndata: {"action":"result","payload":${deep}}\n\n`)
    })
    app.get('/v1/heartbeats/stream', ROUTE_ACCESS.public, (_req, reply) => {
      reply.hijack()
      reply.raw.writeHead(200, { 'content-type': 'text/event-stream' })
      reply.raw.write(`event: telemetry\ndata: {"type":"telemetry","x":${deep}}\n\n`)
    })
    url = `http://127.0.0.1:${await server.listen('127.0.0.1', 0)}`
  })
  after(() => server.close())

  test('an answer nested too deep is RBEE_UPSTREAM naming the limit', async () => {
    const hive = new HiveClient({ baseUrl: url })
    after(() => hive.close())
    await assert.rejects(
      hive.capabilities(),
      (e: unknown) => e instanceof RbeeError && e.code === 'RBEE_UPSTREAM' && tooDeep.test(e.message),
    )
  })

  test('an error answer nested too deep becomes an error that can still be printed and sent on', async () => {
    const hive = new HiveClient({ baseUrl: url })
    after(() => hive.close())
    const err = await hive.health().then(
      () => assert.fail('expected an error'),
      (e: unknown) => e,
    )
    assert.ok(err instanceof RbeeError)
    assert.equal(err.status, 500)
    assert.doesNotThrow(() => JSON.stringify(err.toBody()))
  })

  test('a job event nested too deep ends the stream with RBEE_UPSTREAM naming the limit', async () => {
    const queen = new QueenClient({ baseUrl: url })
    after(() => queen.close())
    await assert.rejects(
      queen.stream('job-1').collect(),
      (e: unknown) => e instanceof RbeeError && e.code === 'RBEE_UPSTREAM' && tooDeep.test(e.message),
    )
  })

  test('a heartbeat event nested too deep is skipped as invalid, naming the limit', async () => {
    const hive = new HiveClient({ baseUrl: url })
    after(() => hive.close())
    const invalid = deferred<string>()
    const sub = hive.heartbeats({ onEvent: () => {}, onInvalid: (r) => invalid.resolve(r) })
    after(() => sub.close())
    assert.match(await invalid.promise, tooDeep)
  })
})
