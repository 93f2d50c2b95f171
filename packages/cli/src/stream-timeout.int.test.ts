import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RbeeSandbox, startQueen } from '@rbee/testing'

const BOUND_S = 1.5
/** Timer lag and process start-up on a machine loaded by the rest of the suite. */
const SLACK_MS = 1500

test('rbee infer against a queen that stops mid-stream (SIGSTOP) ends within RBEE_STREAM_TIMEOUT with exit code 1, saying the queen stopped answering', async (t) => {
  // Keep-alives every 0.2 s: a job that is only quiet (a worker being spawned) is not given up.
  const queen = await startQueen({ args: ['--keep-alive-ms', '200', '--worker-ctx-size', '4096'] })
  let stopped = false
  t.after(async () => {
    if (stopped) process.kill(queen.pid, 'SIGCONT')
    await queen.close()
  })
  const sb = await RbeeSandbox.create()
  t.after(() => sb.close())
  const env = { RBEE_QUEEN_URL: queen.url, RBEE_STREAM_TIMEOUT: String(BOUND_S) }

  // The first request spawns the worker: quiet stretches, kept alive.
  const first = await sb.run(['infer', '--max-tokens', '4', 'hello'], { env })
  assert.equal(first.code, 0, first.stderr)

  const p = sb.spawn(['infer', '--max-tokens', '1900', '--temperature', '0', 'tell me a long story'], env)
  await p.waitFor('stdout', /\S{8}/)
  const stoppedAt = performance.now()
  process.kill(queen.pid, 'SIGSTOP')
  stopped = true
  const timer = setTimeout(() => p.child.kill('SIGKILL'), BOUND_S * 1000 + 30_000)
  const run = await p.done
  clearTimeout(timer)
  const tookMs = performance.now() - stoppedAt

  assert.equal(run.code, 1, `exit ${run.code} (${run.signal}); stderr: ${run.stderr}`)
  assert.match(
    run.stderr,
    /queen-rbee stopped answering: nothing arrived on the stream of job \S+ for 1\.\d s .*RBEE_STREAM_TIMEOUT/,
  )
  assert.ok(tookMs < BOUND_S * 1000 + SLACK_MS, `rbee ended ${Math.round(tookMs)} ms after the queen stopped`)
})
