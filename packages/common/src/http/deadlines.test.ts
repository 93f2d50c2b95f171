import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { silentLogger } from '../logger.js'
import { BODY_DEADLINE_MS, deadlineServerOptions, HEADERS_DEADLINE_MS } from './deadlines.js'
import { createHttpServer } from './server.js'

describe('request deadlines', () => {
  test('every server enforces the headers and body deadlines, not node’s or fastify’s defaults', async () => {
    const server = createHttpServer({ logger: silentLogger() })
    try {
      assert.equal(server.app.server.headersTimeout, HEADERS_DEADLINE_MS)
      assert.equal(server.app.server.requestTimeout, HEADERS_DEADLINE_MS + BODY_DEADLINE_MS)
    } finally {
      await server.close()
    }
  })

  test('node checks the deadlines often enough to keep them: at least every second', () => {
    const check = (headersMs: number, bodyMs: number): number | undefined =>
      deadlineServerOptions({ headersMs, bodyMs }).http.connectionsCheckingInterval
    assert.equal(check(HEADERS_DEADLINE_MS, BODY_DEADLINE_MS), 1000)
    assert.equal(check(300, 2000), 75)
  })
})
