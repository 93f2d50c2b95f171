import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { RotatingLog, silentLogger } from '@rbee/common'
import type { HiveStreamEvent } from '@rbee/contracts'
import { waitFor } from '@rbee/testing'
import type { WorkerProbeSettings } from './health-probe.js'
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
// One that serves GET /health on a real port, as llm-worker-rbee does.
const ANSWERING = `
const id = process.argv[process.argv.indexOf('--worker-id') + 1]
const server = require('node:http').createServer((req, res) => res.end('{"status":"ok"}'))
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ type: 'ready', worker_id: id, host: '127.0.0.1', port: server.address().port, model: 'm', model_id: 'tiny', slots: 1, pid: process.pid, backend: 'cpu' }))
})
`
const NO_PROBE: WorkerProbeSettings = { intervalMs: 0, timeoutMs: 1000, restartAfterMs: 1000 }

async function worker(
  t: { after: (fn: () => Promise<void>) => void },
  script: string,
  readyTimeoutMs = 10_000,
  probe = NO_PROBE,
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
    probe,
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

test('a worker that stops answering its health probe is unresponsive at once, ready again when it answers, and killed and restarted when it stays silent', async (t) => {
  const probe = { intervalMs: 100, timeoutMs: 300, restartAfterMs: 1500 }
  const { w, events } = await worker(t, ANSWERING, 10_000, probe)
  await w.start()
  const statusEvents = () => events.filter((e) => e.type === 'worker_status')
  const first = w.pid!

  process.kill(first, 'SIGSTOP')
  const stoppedAt = performance.now()
  await waitFor('unresponsive', () => w.status === 'unresponsive', 5000, 10)
  const detectedMs = performance.now() - stoppedAt
  // At most one interval until the next probe, plus its deadline, plus timer slack.
  assert.ok(detectedMs < probe.intervalMs + probe.timeoutMs + 400, `unresponsive after ${detectedMs} ms`)
  // Answered probes before the stop changed nothing: this is the first status event.
  const ev = statusEvents()[0]
  assert.equal(statusEvents().length, 1)
  assert.ok(ev?.type === 'worker_status' && ev.worker.status === 'unresponsive', JSON.stringify(ev))
  assert.match(ev.reason, /no answer to GET \/health within 300 ms/)

  process.kill(first, 'SIGCONT')
  await waitFor('ready again', () => w.status === 'ready', 5000, 10)
  const back = statusEvents()[1]
  assert.ok(back?.type === 'worker_status' && back.worker.status === 'ready')
  assert.equal(w.pid, first, 'a worker that recovers keeps its process')

  process.kill(first, 'SIGSTOP')
  const exited = await waitFor(
    'the hung worker killed',
    () => events.find((e) => e.type === 'worker_exited'),
    10_000,
    20,
  )
  assert.ok(exited.type === 'worker_exited' && exited.signal === 'SIGKILL' && exited.restarting)
  assert.match(exited.reason, /unresponsive for 1500 ms/)
  await waitFor('restarted and ready', () => w.status === 'ready' && w.pid !== first, 10_000, 20)
  assert.equal(w.view().restarts, 1)
  assert.match(w.view().last_exit?.reason ?? '', /killed by signal SIGKILL: unresponsive for 1500 ms/)
})
