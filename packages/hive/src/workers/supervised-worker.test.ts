import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { RotatingLog, silentLogger } from '@rbee/common'
import type { HiveStreamEvent } from '@rbee/contracts'
import { DEFAULT_RESTART_POLICY } from './restart-policy.js'
import { SupervisedWorker } from './supervised-worker.js'

// Real child processes standing in for llm-worker-rbee where the behaviour under test is the
// supervisor's: one that says it is ready and then ignores SIGTERM, one that never gets ready.
const STUBBORN = `
process.on('SIGTERM', () => console.error('ignoring SIGTERM'))
const id = process.argv[process.argv.indexOf('--worker-id') + 1]
console.log(JSON.stringify({ type: 'ready', worker_id: id, host: '127.0.0.1', port: 40001, model: 'm', model_id: 'tiny', slots: 1, pid: process.pid, backend: 'cpu' }))
setInterval(() => {}, 1000)
`
const SILENT = `console.error('loading forever'); setInterval(() => {}, 1000)`

async function worker(
  t: { after: (fn: () => Promise<void>) => void },
  script: string,
  readyTimeoutMs = 10_000,
) {
  const dir = await mkdtemp(join(tmpdir(), 'rbee-supervised-'))
  const events: HiveStreamEvent[] = []
  const w = new SupervisedWorker({
    launch: {
      workerId: 'w-test',
      modelId: 'tiny',
      modelPath: '/m/tiny.gguf',
      backend: 'cpu',
      device: 0,
      slots: 1,
      ctxSize: 512,
      bindHost: '127.0.0.1',
      advertiseHost: '127.0.0.1',
      hiveId: 'h',
      hiveUrl: 'http://127.0.0.1:1',
    },
    command: { command: process.execPath, prefixArgs: ['-e', script, '--'] },
    baseEnv: { PATH: process.env.PATH },
    log: new RotatingLog({ path: join(dir, 'w.log') }),
    logger: silentLogger(),
    policy: DEFAULT_RESTART_POLICY,
    stopGraceMs: 300,
    readyTimeoutMs,
    version: '0.1.0',
    emit: (e) => events.push(e),
  })
  t.after(async () => {
    await w.stop()
    await rm(dir, { recursive: true, force: true })
  })
  return { w, events }
}

test('a worker that ignores SIGTERM is killed with SIGKILL after the grace period', async (t) => {
  const { w, events } = await worker(t, STUBBORN)
  await w.start()
  assert.equal(w.status, 'ready')
  assert.equal(w.port, 40001)
  const started = performance.now()
  const exit = await w.stop()
  const took = performance.now() - started
  assert.deepEqual(exit, { code: null, signal: 'SIGKILL' })
  assert.ok(took >= 250, `SIGKILL came after ${took} ms`)
  assert.equal(w.status, 'stopped')
  assert.deepEqual(
    events.map((e) => e.type),
    ['worker_spawned', 'worker_ready', 'worker_exited'],
  )
  const last = events.at(-1)
  assert.ok(last?.type === 'worker_exited' && last.expected && !last.restarting)
  assert.match(w.logTail().join('\n'), /ignoring SIGTERM/)
})

test('a worker that is not ready in time is killed and its start fails with its last log lines', async (t) => {
  const { w } = await worker(t, SILENT, 400)
  await assert.rejects(
    w.start(),
    /failed to start \(killed by signal SIGKILL: not ready within 400 ms\); last log lines:\n.*loading forever/s,
  )
  assert.equal(w.status, 'stopped')
  assert.equal(w.pid, null)
})

test('cancelling a start stops the process it launched', async (t) => {
  const { w } = await worker(t, SILENT)
  const ac = new AbortController()
  const starting = w.start(ac.signal)
  setTimeout(() => ac.abort(new Error('job cancelled')), 200)
  await assert.rejects(starting, /job cancelled/)
  assert.equal(w.pid, null)
  assert.equal(w.status, 'stopped')
})
