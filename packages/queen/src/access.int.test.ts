import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { silentLogger } from '@rbee/common'
import { type RouteAccessName, routeTable, type WalkCredential, walkRoutes } from '@rbee/testing'
import { Queen } from './queen.js'

const USER_KEY = 'sk-user-0123456789'
const ADMIN_KEY = 'sk-admin-0123456789'
const NODE_TOKEN = 'node-token-abcdefgh'

/** Who may call each route of the queen. A new route fails this test until it is listed here. */
const QUEEN_ROUTES: Record<string, RouteAccessName> = {
  'GET /health': 'public',
  'GET /': 'public',
  'GET /ui/*': 'public',
  'GET /assets/:name': 'public',
  'GET /v1/info': 'user',
  'GET /v1/models': 'user',
  'POST /v1/chat/completions': 'user',
  'POST /v1/completions': 'user',
  'POST /v1/embeddings': 'user',
  'POST /v1/messages': 'user',
  'POST /v1/messages/count_tokens': 'user',
  'POST /v1/responses': 'user',
  'POST /v1/rerank': 'user',
  'POST /rerank': 'user',
  'GET /api/version': 'user',
  'GET /api/tags': 'user',
  'GET /api/ps': 'user',
  'POST /api/show': 'user',
  'POST /api/embed': 'user',
  'POST /api/embeddings': 'user',
  'POST /api/chat': 'user',
  'POST /api/generate': 'user',
  'POST /api/pull': 'admin',
  'DELETE /api/delete': 'admin',
  'POST /v1/jobs': 'user',
  'GET /v1/jobs/:id': 'user',
  'GET /v1/jobs/:id/stream': 'user',
  'DELETE /v1/jobs/:id': 'user',
  'GET /v1/heartbeats/stream': 'user',
  'GET /metrics': 'user',
  'GET /v1/activity': 'user',
  'GET /v1/jobs': 'user',
  'POST /v1/shutdown': 'admin',
  'POST /v1/hive/ready': 'node',
  'POST /v1/worker-heartbeat': 'node',
}

/** Routes served for HEAD alone: the ollama CLI's "is a server up" probe (`GET /` is the dashboard's). */
const HEAD_ONLY_ROUTES: Record<string, RouteAccessName> = { '/': 'public' }

const bearer = (t: string): string => `Bearer ${t}`
/** Every credential a caller can present, and the doors each opens on a queen with keys. */
const CREDENTIALS: WalkCredential[] = [
  { name: 'none', opens: (a) => a === 'public' },
  { name: 'wrong key', authorization: bearer('sk-wrong-0123456789'), opens: (a) => a === 'public' },
  { name: 'not bearer', authorization: `Basic ${USER_KEY}`, opens: (a) => a === 'public' },
  { name: 'user key', authorization: bearer(USER_KEY), opens: (a) => a === 'public' || a === 'user' },
  { name: 'admin key', authorization: bearer(ADMIN_KEY), opens: (a) => a !== 'node' },
  { name: 'node token', authorization: bearer(NODE_TOKEN), opens: (a) => a === 'public' || a === 'node' },
  // Anthropic's header carries a key like a bearer token: the same doors, no more.
  { name: 'user key as x-api-key', apiKey: USER_KEY, opens: (a) => a === 'public' || a === 'user' },
  { name: 'wrong key as x-api-key', apiKey: 'sk-wrong-0123456789', opens: (a) => a === 'public' },
]

// A real queen (in-process, for its route table) with user and admin keys and a node token, on a
// real socket: the walk sends raw request lines no HTTP client would normalise first.
describe('who may call each route of queen-rbee', () => {
  let queen: Queen
  let home: string
  let url: string
  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'rbee-access-'))
    queen = new Queen({
      port: 0,
      auditLog: join(home, 'logs', 'audit.log'),
      apiKeys: [USER_KEY],
      adminKeys: [ADMIN_KEY],
      nodeToken: NODE_TOKEN,
      logger: silentLogger(),
      // The walk calls shutdown with the admin key: it must not stop the queen under the walk.
      onShutdownRequest: () => {},
    })
    url = (await queen.start()).url
  })
  after(async () => {
    await queen?.close()
    await rm(home, { recursive: true, force: true })
  })

  test('every route declares who may call it, and the table above names them all', () => {
    assert.deepEqual(routeTable(queen.routes), QUEEN_ROUTES)
    for (const head of queen.routes.filter((r) => r.method === 'HEAD')) {
      const expected = QUEEN_ROUTES[`GET ${head.url}`] ?? HEAD_ONLY_ROUTES[head.url]
      assert.equal(head.access, expected, `HEAD ${head.url} has its GET's access, or its own`)
    }
  })

  test('a refused call is in the audit log with the fingerprint of its key, never the key', async () => {
    const r = await fetch(`${url}/v1/hive/%72eady`, {
      method: 'POST',
      headers: { authorization: bearer(USER_KEY), 'content-type': 'application/json' },
      body: JSON.stringify({ hive_id: 'evil', hive_url: 'http://127.0.0.1:9' }),
    })
    assert.equal(r.status, 401)
    const audit = await readFile(join(home, 'logs', 'audit.log'), 'utf8')
    assert.ok(!audit.includes(USER_KEY) && !audit.includes(ADMIN_KEY) && !audit.includes(NODE_TOKEN))
    const lines = audit
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    const refused = lines.find((l) => l.event === 'auth_failed' && l.path === '/v1/hive/%72eady')
    assert.ok(refused, `no auth_failed line for the encoded path in ${audit.slice(0, 2000)}`)
    assert.equal(refused.route, '/v1/hive/ready')
    assert.match(String(refused.key), /^key:[0-9a-f]{12}$/)
    assert.equal(queen.registry.hive('evil'), undefined)
  })

  test('no spelling of any path lets a credential through a door it may not open', async () => {
    const violations = await walkRoutes({ baseUrl: url, routes: queen.routes, credentials: CREDENTIALS })
    assert.deepEqual(violations, [])
  })
})
