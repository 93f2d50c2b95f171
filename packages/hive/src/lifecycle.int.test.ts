import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { isLoopbackHost } from '@rbee/common'
import { HiveReadySchema, RBEE_PROTOCOL, RBEE_VERSION, WorkerSpawnResultSchema } from '@rbee/contracts'
import { daemonCommand, payloadOf, runJob, type StartedHive, startHive, waitFor } from '@rbee/testing'

/** Pids whose parent is `ppid`, read from /proc. */
async function childrenOf(ppid: number): Promise<number[]> {
  const out: number[] = []
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const status = await readFile(`/proc/${name}/status`, 'utf8').catch(() => '')
    if (Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]) === ppid) out.push(Number(name))
  }
  return out
}

async function exists(pid: number): Promise<boolean> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
  // A zombie waiting for its (dead) parent's reaper counts as gone.
  return status !== '' && !/^State:\s+Z/m.test(status)
}

/** Waits (bounded) until none of `pids` exists; resolves with how long that took. */
async function allGone(pids: number[], timeoutMs: number): Promise<number> {
  const start = performance.now()
  await waitFor(
    `processes ${pids.join(', ')} to be gone`,
    async () => !(await Promise.all(pids.map(exists))).some(Boolean),
    timeoutMs,
    25,
  )
  return performance.now() - start
}

async function spawnWorker(hive: StartedHive): Promise<number> {
  const headers = hive.authorization ? { authorization: hive.authorization } : undefined
  const run = await runJob(
    hive.url,
    { operation: 'worker_spawn', model: 'tiny', worker: 'cpu', slots: 1, ctx_size: 512 },
    { headers },
  )
  return WorkerSpawnResultSchema.parse(payloadOf(run, 'worker_spawned')).pid
}

test('SIGTERM stops the hive and every worker with it: no child is left in /proc', async (t) => {
  const hive = await startHive()
  t.after(() => hive.close(1000))
  const pid = await spawnWorker(hive)
  assert.deepEqual(await childrenOf(hive.pid), [pid])
  const started = performance.now()
  hive.process.kill('SIGTERM')
  const exit = await hive.process.exited
  t.diagnostic(
    `hive exited ${(performance.now() - started).toFixed(0)} ms after SIGTERM with code ${exit.code}`,
  )
  assert.equal(exit.code, 0)
  await allGone([pid], 2000)
  assert.deepEqual(await childrenOf(hive.pid), [])
})

test('a hive killed with SIGKILL takes its workers with it through their stdin pipe', async (t) => {
  const hive = await startHive()
  t.after(() => hive.close(1000))
  const pid = await spawnWorker(hive)
  hive.process.kill('SIGKILL')
  await hive.process.exited
  const tookMs = await allGone([pid], 15_000)
  t.diagnostic(`orphaned worker exited ${tookMs.toFixed(0)} ms after the hive was killed`)
})

test('with a token every route but /health needs it, the hive announces itself to the queen with retries, and POST /v1/shutdown stops it', async (t) => {
  const announcements: Array<{ body: unknown; authorization: string | undefined }> = []
  const queen = createServer((req: IncomingMessage, res) => {
    let body = ''
    req.on('data', (c: Buffer) => {
      body += c.toString()
    })
    req.on('end', () => {
      if (req.url === '/v1/hive/ready' && req.method === 'POST') {
        announcements.push({ body: JSON.parse(body), authorization: req.headers.authorization })
        // A queen that is still starting refuses twice.
        res.writeHead(announcements.length <= 2 ? 503 : 200, { 'content-type': 'application/json' })
        res.end('{}')
        return
      }
      res.writeHead(404)
      res.end()
    })
  })
  await new Promise<void>((r) => queen.listen(0, '127.0.0.1', r))
  t.after(() => new Promise((r) => queen.close(r)))
  const queenUrl = `http://127.0.0.1:${(queen.address() as AddressInfo).port}`
  const token = 'shared-secret-for-tests'
  const hive = await startHive({
    token,
    args: ['--host', '0.0.0.0', '--queen-url', queenUrl],
  })
  t.after(() => hive.close(1000))

  assert.equal((await fetch(`${hive.url}/health`)).status, 200)
  const denied = await fetch(`${hive.url}/v1/capabilities`)
  assert.equal(denied.status, 401)
  assert.equal(((await denied.json()) as { error: { code: string } }).error.code, 'RBEE_UNAUTHORIZED')
  assert.equal(
    (await fetch(`${hive.url}/v1/capabilities`, { headers: { authorization: `Bearer ${token}` } })).status,
    200,
  )
  assert.equal((await fetch(`${hive.url}/v1/jobs`, { method: 'POST' })).status, 401)

  await waitFor('three announcements', () => announcements.length >= 3, 15_000)
  assert.equal(announcements.length, 3, 'retried until the queen accepted')
  for (const a of announcements) {
    const ready = HiveReadySchema.parse(a.body)
    assert.equal(ready.hive_id, 'test-hive')
    assert.equal(a.authorization, `Bearer ${token}`)
    const host = new URL(ready.hive_url).hostname
    assert.ok(!isLoopbackHost(host), `bound to 0.0.0.0, it announces a reachable address, not ${host}`)
    assert.equal(new URL(ready.hive_url).port, String(hive.port))
  }

  assert.equal((await fetch(`${hive.url}/v1/shutdown`, { method: 'POST' })).status, 401)
  const ok = await fetch(`${hive.url}/v1/shutdown`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
  })
  assert.equal(ok.status, 202)
  assert.equal((await hive.process.exited).code, 0)
})

test('an --advertise-url is what the hive announces', async (t) => {
  const bodies: unknown[] = []
  const queen = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => {
      body += c.toString()
    })
    req.on('end', () => {
      bodies.push(JSON.parse(body))
      res.end('{}')
    })
  })
  await new Promise<void>((r) => queen.listen(0, '127.0.0.1', r))
  t.after(() => new Promise((r) => queen.close(r)))
  const hive = await startHive({
    env: {
      RBEE_QUEEN_URL: `http://127.0.0.1:${(queen.address() as AddressInfo).port}`,
      RBEE_ADVERTISE_URL: 'http://gpu-box.lan:7835',
    },
  })
  t.after(() => hive.close(1000))
  await waitFor('the hive to announce itself', () => bodies.length > 0, 10_000, 25)
  assert.deepEqual(bodies[0], {
    hive_id: 'test-hive',
    hive_url: 'http://gpu-box.lan:7835',
    version: RBEE_VERSION,
    protocol: RBEE_PROTOCOL,
  })
})

test('bad flags and unsafe combinations exit with code 2 and a message naming the flag', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['--port', 'abc'], /--port: .*expected number/i],
    [['--host', '0.0.0.0'], /refusing to listen on 0\.0\.0\.0 without a token/],
    [['--bogus'], /Unknown option '--bogus'/],
  ]
  const run = (args: string[]): Promise<{ code: number | null; stderr: string }> =>
    new Promise((resolve) => {
      const hive = daemonCommand('rbee-hive', ['--home', '/nonexistent/rbee-home', ...args])
      const child = execFile(
        hive.command,
        hive.args,
        { timeout: 20_000, env: { PATH: process.env.PATH } },
        (_err, _stdout, stderr) => resolve({ code: child.exitCode, stderr }),
      )
    })
  const results = await Promise.all(cases.map(([args]) => run(args)))
  cases.forEach(([args, message], i) => {
    const r = results[i]!
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
    assert.match(r.stderr, message, args.join(' '))
  })
})
