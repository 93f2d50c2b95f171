import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Authenticator } from '../auth.js'
import { silentLogger } from '../logger.js'
import { ROUTE_ACCESS, routeConfig } from './access.js'
import { createHttpServer } from './server.js'

const keys = {
  userKeys: ['user-key-123456'],
  adminKeys: ['admin-key-123456'],
  nodeToken: 'node-token-123456',
}

test('a route that does not say who may call it cannot be registered', () => {
  const server = createHttpServer({ logger: silentLogger() })
  assert.throws(
    () => server.app.get('/v1/secret', async () => 'x'),
    /GET \/v1\/secret does not declare who may call it/,
  )
  server.app.get('/v1/open', ROUTE_ACCESS.public, async () => 'x')
  assert.deepEqual(
    server.routes.map((r) => `${r.method} ${r.url} ${r.access}`),
    ['GET /v1/open public', 'HEAD /v1/open public'],
  )
})

test('each credential opens its own doors: 401 without a fitting one, 403 for a user key at an admin door', async () => {
  const server = createHttpServer({ logger: silentLogger(), auth: new Authenticator(keys) })
  for (const access of ['public', 'user', 'admin', 'node'] as const) {
    server.app.get(`/${access}`, ROUTE_ACCESS[access], async () => 'ok')
  }
  const status = async (path: string, token?: string): Promise<string> => {
    const r = await server.app.inject({
      url: path,
      headers: token ? { authorization: `Bearer ${token}` } : {},
    })
    return r.statusCode === 200
      ? 'ok'
      : `${r.statusCode} ${(r.json() as { error: { code: string } }).error.code}`
  }
  const table: Array<[string, string | undefined, string]> = [
    ['/public', undefined, 'ok'],
    ['/user', undefined, '401 RBEE_UNAUTHORIZED'],
    ['/user', 'user-key-123456', 'ok'],
    ['/user', 'admin-key-123456', 'ok'],
    ['/user', 'node-token-123456', '401 RBEE_UNAUTHORIZED'],
    ['/admin', 'user-key-123456', '403 RBEE_FORBIDDEN'],
    ['/admin', 'admin-key-123456', 'ok'],
    ['/admin', 'node-token-123456', '401 RBEE_UNAUTHORIZED'],
    ['/node', 'admin-key-123456', '401 RBEE_UNAUTHORIZED'],
    ['/node', 'node-token-123456', 'ok'],
  ]
  for (const [path, token, want] of table)
    assert.equal(await status(path, token), want, `${path} with ${token}`)
  await server.close()
})

test('without keys the user and admin doors are open, and without a node token so are node doors', async () => {
  const server = createHttpServer({ logger: silentLogger(), auth: new Authenticator({}) })
  for (const access of ['user', 'admin', 'node'] as const)
    server.app.get(`/${access}`, ROUTE_ACCESS[access], async () => 'ok')
  for (const path of ['/user', '/admin', '/node'])
    assert.equal((await server.app.inject({ url: path })).statusCode, 200)
  await server.close()
})

test("Anthropic's x-api-key header opens the same doors as a bearer token; a route with its own error shape refuses in it", async () => {
  const server = createHttpServer({ logger: silentLogger(), auth: new Authenticator(keys) })
  server.app.get('/user', ROUTE_ACCESS.user, async () => 'ok')
  server.app.get('/messages', routeConfig('user', 'anthropic'), async () => 'ok')
  const call = (url: string, headers: Record<string, string>) => server.app.inject({ url, headers })
  assert.equal((await call('/user', { 'x-api-key': 'user-key-123456' })).statusCode, 200)
  assert.equal((await call('/user', { 'x-api-key': 'node-token-123456' })).statusCode, 401)
  // A bearer token, when there is one, is the credential.
  assert.equal(
    (await call('/user', { authorization: 'Bearer wrong', 'x-api-key': 'user-key-123456' })).statusCode,
    401,
  )
  const refused = await call('/messages', { 'x-api-key': 'wrong-key' })
  assert.equal(refused.statusCode, 401)
  const body = refused.json() as { type: string; error: { type: string; code: string } }
  assert.deepEqual(
    [body.type, body.error.type, body.error.code],
    ['error', 'authentication_error', 'RBEE_UNAUTHORIZED'],
  )
  await server.close()
})
