import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { MAX_JSON_DEPTH } from '../json-limits.js'
import { silentLogger } from '../logger.js'
import { ROUTE_ACCESS } from './access.js'
import { createHttpServer } from './server.js'

const server = createHttpServer({ logger: silentLogger(), bodyLimit: 8 * 1024 * 1024 })
// As the queen's router does before proxying: anything that walks the body recursively.
server.app.post('/echo', ROUTE_ACCESS.public, async (req) => ({ length: JSON.stringify(req.body).length }))
after(() => server.close())

const post = (payload: string) =>
  server.app.inject({
    method: 'POST',
    url: '/echo',
    headers: { 'content-type': 'application/json' },
    payload,
  })
const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth)

describe('JSON request bodies', () => {
  test('two million levels of nesting in an unknown field get a 400 naming the limit, and the server keeps serving', async () => {
    const res = await post(`{"model":"tiny","x":${nested(2_000_000)}}`)
    assert.equal(res.statusCode, 400)
    assert.equal(res.json().error.code, 'RBEE_BAD_REQUEST')
    assert.match(res.json().error.message, new RegExp(`deeper than ${MAX_JSON_DEPTH} levels`))
    const ok = await post(`{"x":${nested(MAX_JSON_DEPTH - 1)}}`)
    assert.equal(ok.statusCode, 200)
  })

  test('the limit counts from the top: one level more than it is refused', async () => {
    assert.equal((await post(nested(MAX_JSON_DEPTH))).statusCode, 200)
    assert.equal((await post(nested(MAX_JSON_DEPTH + 1))).statusCode, 400)
  })

  test('fastify’s own checks still apply: malformed JSON and __proto__ keys are 400s', async () => {
    const bad = await post('{"a":')
    assert.equal(bad.statusCode, 400)
    assert.match(bad.json().error.message, /malformed JSON body/)
    assert.equal((await post('{"__proto__":{"x":1}}')).statusCode, 400)
    assert.equal((await post('')).statusCode, 400)
  })
})
