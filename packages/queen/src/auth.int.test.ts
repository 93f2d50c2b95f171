import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { QueenClient } from '@rbee/client'
import { RbeeError } from '@rbee/common'
import { type Operation, RBEE_PROTOCOL, RBEE_VERSION } from '@rbee/contracts'
import {
  daemonCommand,
  ManagedProcess,
  type StartedQueen,
  startQueen,
  writeUnloadableModel,
} from '@rbee/testing'

const API_KEY = 'sk-test-0123456789'
const NODE_TOKEN = 'node-token-abcdefgh'
const NOW = new Date().toISOString()
const heartbeat = {
  worker: {
    id: 'w-auth',
    model_id: 'tiny',
    device: 'cpu:0',
    port: 1,
    status: 'ready',
    implementation: 'llm-worker-rbee',
    version: RBEE_VERSION,
    protocol: RBEE_PROTOCOL,
    host: '127.0.0.1',
    hive_id: null,
    slots_total: 1,
    slots_busy: 0,
  },
  timestamp: NOW,
}

// A real queen with API keys and a node token, and no hive (none is needed to check the doors).
describe('queen-rbee authentication', () => {
  let queen: StartedQueen
  before(async () => {
    queen = await startQueen({ apiKeys: [API_KEY], nodeToken: NODE_TOKEN, args: ['--no-local-hive'] })
  })
  after(() => queen?.close())

  const call = (path: string, init: { method?: string; token?: string; body?: unknown } = {}) =>
    fetch(`${queen.url}${path}`, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: {
        ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
        ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    })

  test('with API keys on, the public API wants one and /health does not', async () => {
    assert.equal((await call('/health')).status, 200)
    const models = await call('/v1/models')
    assert.equal(models.status, 401)
    const body = (await models.json()) as { error: { type: string; code: string } }
    assert.equal(body.error.type, 'authentication_error', 'OpenAI routes answer in OpenAI shape')
    const jobs = await call('/v1/jobs', { body: { operation: 'status' } })
    assert.equal(jobs.status, 401)
    assert.equal(((await jobs.json()) as { error: { code: string } }).error.code, 'RBEE_UNAUTHORIZED')
    assert.equal((await call('/v1/models', { token: 'sk-wrong-key-000000' })).status, 401)
    assert.equal((await call('/v1/models', { token: API_KEY })).status, 200)
    assert.equal((await call('/metrics', { token: API_KEY })).status, 200)
    assert.equal(
      (await call('/v1/models', { token: NODE_TOKEN })).status,
      401,
      'the node token is no API key',
    )
    // Streamed completions (the fast lane's requests) check the key too.
    const streamed = { model: 'no-such-model', prompt: 'x', stream: true }
    for (const token of [undefined, 'sk-wrong-key-000000', NODE_TOKEN]) {
      const r = await call('/v1/completions', { token, body: streamed })
      assert.equal(r.status, 401, `token ${token}`)
      assert.equal(((await r.json()) as { error: { type: string } }).error.type, 'authentication_error')
    }
    const allowed = await call('/v1/completions', { token: API_KEY, body: streamed })
    const past = (await allowed.json()) as { error: { code: string } }
    // Past the door: no hive knows the model.
    assert.deepEqual([allowed.status, past.error.code], [503, 'RBEE_NO_CAPACITY'])
  })

  test('the typed client presents its key and gets the fleet', async () => {
    const good = new QueenClient({ baseUrl: queen.url, token: API_KEY })
    const bad = new QueenClient({ baseUrl: queen.url })
    try {
      const s = await good.status()
      assert.deepEqual(s.hives, [])
      const info = await good.info()
      assert.deepEqual(info.auth, { api_keys: true, node_token: true })
      assert.equal(info.local_hive, null)
      await assert.rejects(
        bad.status(),
        (e: unknown) => e instanceof RbeeError && e.code === 'RBEE_UNAUTHORIZED',
      )
    } finally {
      await good.close()
      await bad.close()
    }
  })

  test('hive and worker endpoints want the node token, not an API key', async () => {
    assert.equal((await call('/v1/worker-heartbeat', { body: heartbeat })).status, 401)
    assert.equal((await call('/v1/worker-heartbeat', { body: heartbeat, token: API_KEY })).status, 401)
    assert.equal((await call('/v1/worker-heartbeat', { body: heartbeat, token: NODE_TOKEN })).status, 202)
    const ready = { hive_id: 'h', hive_url: 'http://127.0.0.1:9' }
    assert.equal((await call('/v1/hive/ready', { body: ready, token: API_KEY })).status, 401)
    const bad = await call('/v1/hive/ready', {
      body: { hive_id: '../x', hive_url: 'ftp://x', version: RBEE_VERSION, protocol: RBEE_PROTOCOL },
      token: NODE_TOKEN,
    })
    assert.equal(bad.status, 400)
    const issues = ((await bad.json()) as { error: { details: { issues: Array<{ path: string }> } } }).error
      .details.issues
    assert.deepEqual([...new Set(issues.map((i) => i.path))].sort(), ['hive_id', 'hive_url'])
  })

  test('a queen bound beyond loopback without an API key refuses to start', async () => {
    const proc = new ManagedProcess({
      ...daemonCommand('queen-rbee', [
        '--host',
        '0.0.0.0',
        '--port',
        '0',
        '--no-local-hive',
        '--node-token',
        NODE_TOKEN,
      ]),
      env: { ...process.env, RBEE_API_KEYS: '', RBEE_API_KEY: '', RBEE_LOG_LEVEL: 'fatal' },
    })
    const exit = await proc.exited
    assert.equal(exit.code, 2)
    assert.match(proc.stderrTail(), /without an API key/)
  })
})

describe('queen-rbee without API keys on loopback', () => {
  let queen: StartedQueen
  before(async () => {
    queen = await startQueen({ args: ['--no-local-hive'] })
  })
  after(() => queen?.close())

  test('the public and node endpoints are open', async () => {
    assert.equal((await fetch(`${queen.url}/v1/models`)).status, 200)
    const hb = await fetch(`${queen.url}/v1/worker-heartbeat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(heartbeat),
    })
    assert.equal(hb.status, 202)
    const client = new QueenClient({ baseUrl: queen.url })
    try {
      const s = await client.status()
      assert.deepEqual(
        s.workers.map((w) => [w.id, w.routable]),
        [['w-auth', true]],
        'a heartbeat alone makes a worker known',
      )
    } finally {
      await client.close()
    }
  })
})

// API keys and nothing else, as a user would start it on a laptop: the queen makes a node token
// for its local hive and workers, so neither is open to callers without it.
describe('queen-rbee with API keys and no node token', () => {
  const USER = 'sk-user-0123456789'
  const ADMIN = 'sk-admin-0123456789'
  let queen: StartedQueen
  let user: QueenClient
  let admin: QueenClient
  before(async () => {
    queen = await startQueen({ apiKeys: [USER], args: ['--admin-key', ADMIN] })
    user = new QueenClient({ baseUrl: queen.url, token: USER })
    admin = new QueenClient({ baseUrl: queen.url, token: ADMIN })
  })
  after(async () => {
    await user?.close()
    await admin?.close()
    await queen?.close()
  })

  test('its local hive and workers refuse callers without the node token, and so does registration', async () => {
    assert.deepEqual((await user.info()).auth, { api_keys: true, node_token: true })
    const r = await fetch(`${queen.url}/v1/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${USER}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tiny', prompt: 'hi', max_tokens: 2 }),
    })
    assert.equal(r.status, 200, await r.clone().text())
    const s = await user.status()
    const hiveUrl = s.hives[0]?.url
    const worker = s.workers[0]
    assert.ok(hiveUrl && worker, JSON.stringify(s))
    for (const token of [undefined, USER, ADMIN]) {
      const headers = token ? { authorization: `Bearer ${token}` } : undefined
      assert.equal((await fetch(`${hiveUrl}/v1/info`, { headers })).status, 401, `hive info with ${token}`)
      const spawn = await fetch(`${hiveUrl}/v1/jobs`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ operation: 'worker_spawn', model: 'tiny' }),
      })
      assert.equal(spawn.status, 401, `hive worker_spawn with ${token}`)
      const completion = await fetch(`http://${worker.host}:${worker.port}/v1/completions`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'tiny', prompt: 'hi', max_tokens: 2 }),
      })
      assert.equal(completion.status, 401, `worker completion with ${token}`)
      const ready = await fetch(`${queen.url}/v1/hive/ready`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ hive_id: 'evil', hive_url: 'http://127.0.0.1:9' }),
      })
      assert.equal(ready.status, 401, `hive registration with ${token}`)
    }
  })

  test('a user key cannot manage models or workers or stop the queen; an admin key can', async () => {
    const adminOps: Operation[] = [
      { operation: 'model_import', path: '/etc/shadow' },
      { operation: 'model_delete', model: 'tiny' },
      { operation: 'worker_spawn', model: 'tiny', worker: 'auto', device: 0 },
      { operation: 'worker_stop', worker_id: 'w-1' },
      { operation: 'model_download', model: 'hf:org/repo' },
    ]
    for (const op of adminOps) {
      await assert.rejects(
        user.submit(op),
        (e: unknown) => e instanceof RbeeError && e.code === 'RBEE_FORBIDDEN' && e.status === 403,
        op.operation,
      )
    }
    const shutdown = await fetch(`${queen.url}/v1/shutdown`, {
      method: 'POST',
      headers: { authorization: `Bearer ${USER}` },
    })
    assert.equal(shutdown.status, 403)
    assert.equal((await user.health()).status, 'ok')
    const listed = await (await admin.run({ operation: 'model_list' })).collect()
    assert.equal(listed.outcome, 'done')
  })

  test('a worker that fails to start is a short error with an error id for a user, with its details for an admin', async () => {
    const path = join(queen.home, 'models', 'broken.gguf')
    await writeUnloadableModel(path)
    const imported = await (await admin.run({ operation: 'model_import', path, id: 'broken' })).collect()
    assert.equal(imported.outcome, 'done', imported.message ?? '')
    // Who did it is in the audit log: the admin's import and its outcome, and the user's refused
    // attempts of the test before, each with a key fingerprint and never a key.
    const audit = await readFile(join(queen.home, 'logs', 'audit.log'), 'utf8')
    assert.ok(!audit.includes(USER) && !audit.includes(ADMIN), 'no key in the audit log')
    const lines = audit
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    const adminKey = lines.find((l) => l.event === 'auth_ok' && l.role === 'admin')?.key
    assert.match(String(adminKey), /^key:[0-9a-f]{12}$/)
    const started = lines.find((l) => l.event === 'admin_action' && l.operation === 'model_import')
    assert.deepEqual([started?.key, started?.import_path], [adminKey, path])
    const ended = lines.find((l) => l.event === 'admin_result' && l.job_id === started?.job_id)
    assert.equal(ended?.outcome, 'done')
    const refused = lines.filter((l) => l.event === 'forbidden').map((l) => l.operation ?? l.path)
    for (const what of [
      'model_import',
      'model_delete',
      'worker_spawn',
      'worker_stop',
      'model_download',
      '/v1/shutdown',
    ]) {
      assert.ok(refused.includes(what), `no forbidden line for ${what}: ${JSON.stringify(refused)}`)
    }
    // Completions take the queen's fast lane, embeddings its HTTP server: both disclose alike.
    const ask = (key: string, path = '/v1/chat/completions') =>
      fetch(`${queen.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify(
          path === '/v1/embeddings'
            ? { model: 'broken', input: 'hi' }
            : { model: 'broken', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 },
        ),
      })
    for (const path of ['/v1/chat/completions', '/v1/embeddings']) {
      const forUser = await ask(USER, path)
      const body = (await forUser.json()) as { error: { code: string; message: string; error_id?: string } }
      assert.ok(forUser.status >= 500, JSON.stringify(body))
      assert.match(body.error.error_id ?? '', /^err-[0-9a-f]{12}$/)
      assert.ok(body.error.message.includes(body.error.error_id!), body.error.message)
      for (const leak of [queen.home, 'llm-worker-rbee', '--model', '127.0.0.1', 'pid']) {
        assert.ok(
          !body.error.message.includes(leak),
          `${path}: the user's error shows ${leak}: ${body.error.message}`,
        )
      }
    }
    const forAdmin = (await (await ask(ADMIN)).json()) as { error: { message: string; error_id?: string } }
    assert.match(forAdmin.error.error_id ?? '', /^err-/)
    assert.match(forAdmin.error.message, /broken/, 'an admin reads what failed')
    assert.ok(!forAdmin.error.message.includes('error id'), forAdmin.error.message)
  })
})
