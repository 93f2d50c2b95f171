import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { OPERATION_ACCESS, parseJobFrame } from '@rbee/contracts'
import { Authenticator } from '../auth.js'
import { RbeeError } from '../errors.js'
import { createHttpServer } from '../http/server.js'
import { silentLogger } from '../logger.js'
import { readSse } from '../sse/sse-reader.js'
import { JobRegistry } from './job-registry.js'
import { registerJobRoutes } from './job-routes.js'

const ALICE = 'user-key-alice-1234'
const BOB = 'user-key-bob-123456'
const ADMIN = 'admin-key-12345678'
const GRACE_MS = 200

// A jobs server with user and admin keys, as the queen has: operations run until cancelled,
// except model_get, which fails with a server-side error whose message holds internals.
describe('jobs and who may see them', () => {
  const auth = new Authenticator({ userKeys: [ALICE, BOB], adminKeys: [ADMIN] })
  const server = createHttpServer({ logger: silentLogger(), auth })
  const registry = new JobRegistry({ actor: 'test', logger: silentLogger(), unreadGraceMs: GRACE_MS })
  const aborted = new Map<string, Promise<void>>()
  let base = ''
  before(async () => {
    registerJobRoutes(
      server.app,
      registry,
      async (op, ctx) => {
        if (op.operation === 'model_get') {
          throw new RbeeError(
            'RBEE_SPAWN_FAILED',
            'exited: node /srv/rbee/worker.js --hive-url http://10.0.0.2:7835 pid 4242',
          )
        }
        const gone = new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()))
        aborted.set(ctx.id, gone)
        await gone
      },
      { auth, access: 'user', operationAccess: (op) => OPERATION_ACCESS[op.operation] },
    )
    base = `http://127.0.0.1:${await server.listen('127.0.0.1', 0)}`
  })
  after(async () => {
    await registry.close()
    await server.close()
  })

  const call = (method: string, path: string, key: string, body?: unknown) =>
    fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    })
  const start = async (key: string, op: unknown): Promise<string> => {
    const r = await call('POST', '/v1/jobs', key, op)
    assert.equal(r.status, 201, await r.clone().text())
    return ((await r.json()) as { job_id: string }).job_id
  }
  const endOf = async (id: string, key: string): Promise<{ outcome: string; message: string | null }> => {
    const r = await call('GET', `/v1/jobs/${id}/stream`, key)
    for await (const m of readSse(r.body!)) {
      const e = parseJobFrame(m.event, Number(m.id), m.data)
      if (e.kind === 'end') return { outcome: e.outcome, message: e.message }
    }
    throw new Error('stream ended without its end marker')
  }

  test('a user key is refused admin operations with 403, and sees and cancels only the jobs its own key started', async () => {
    const imp = await call('POST', '/v1/jobs', ALICE, { operation: 'model_import', path: '/etc/shadow' })
    assert.equal(imp.status, 403)
    assert.equal(((await imp.json()) as { error: { code: string } }).error.code, 'RBEE_FORBIDDEN')
    const id = await start(ALICE, { operation: 'model_list' })
    const stream = call('GET', `/v1/jobs/${id}/stream`, ALICE)
    assert.equal((await call('GET', `/v1/jobs/${id}`, BOB)).status, 404, "another user's job is not there")
    assert.equal((await call('DELETE', `/v1/jobs/${id}`, BOB)).status, 404)
    assert.equal((await call('GET', `/v1/jobs/${id}/stream`, BOB)).status, 404)
    assert.equal((await call('GET', `/v1/jobs/${id}`, ADMIN)).status, 200, 'an admin sees every job')
    assert.equal(registry.get(id).state, 'running', "Bob's cancel did nothing")
    assert.equal((await call('DELETE', `/v1/jobs/${id}`, ALICE)).status, 202)
    await aborted.get(id)
    ;(await stream).body?.cancel()
    assert.equal((await start(ADMIN, { operation: 'model_import', path: '/x/y.gguf' })).length, 36)
  })

  test('a job nobody follows is cancelled after the grace, and a followed one keeps running', async () => {
    const unread = await start(ALICE, { operation: 'model_list' })
    const followed = await start(ALICE, { operation: 'model_list' })
    const res = await call('GET', `/v1/jobs/${followed}/stream`, ALICE)
    const t0 = performance.now()
    await aborted.get(unread)
    const waited = performance.now() - t0
    assert.ok(waited < GRACE_MS * 10, `cancelled after ${waited} ms`)
    assert.equal(registry.get(unread).state, 'cancelled')
    // The followed job outlives several graces.
    await new Promise((r) => setTimeout(r, GRACE_MS * 3))
    assert.equal(registry.get(followed).state, 'running')
    // Its follower leaves: it is cancelled a grace later.
    await res.body?.cancel()
    await aborted.get(followed)
    assert.equal(registry.get(followed).state, 'cancelled')
  })

  test('a server-side failure reaches a user as a short message with an error id, and an admin with its details', async () => {
    const user = await endOf(await start(ALICE, { operation: 'model_get', model: 'x' }), ALICE)
    assert.equal(user.outcome, 'error')
    assert.match(
      user.message ?? '',
      /^RBEE_SPAWN_FAILED: a worker for this model could not be started \(error id err-[0-9a-f]{12}/,
    )
    assert.ok(!/srv|10\.0\.0\.2|4242|hive-url/.test(user.message ?? ''), user.message ?? '')
    const admin = await endOf(await start(ADMIN, { operation: 'model_get', model: 'x' }), ADMIN)
    assert.match(admin.message ?? '', /node \/srv\/rbee\/worker.js/)
  })
})
