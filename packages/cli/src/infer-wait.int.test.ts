import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { type JobStream, QueenClient } from '@rbee/client'
import { deferred } from '@rbee/common/base'
import type { JobStreamEvent } from '@rbee/contracts'
import { RbeeSandbox, type StartedQueen, startQueen } from '@rbee/testing'

// A real queen whose workers have one slot and whose queue holds one request, so two long jobs
// fill it: one runs, one waits. The rbee processes under test talk to it like any user's would.
let queen: StartedQueen
let client: QueenClient
let sb: RbeeSandbox
let env: NodeJS.ProcessEnv

before(async () => {
  queen = await startQueen({
    args: ['--worker-slots', '1', '--queue-size', '1', '--worker-ctx-size', '32768'],
  })
  client = new QueenClient({ baseUrl: queen.url })
  sb = await RbeeSandbox.create()
  env = { RBEE_QUEEN_URL: queen.url }
})
after(async () => {
  await client?.close()
  await sb?.close()
  await queen?.close()
})

/** Starts a long job and resolves once `ready` says so; `done` follows it to its end. */
async function longJob(
  ready: (ev: JobStreamEvent) => boolean,
): Promise<{ job: JobStream; done: Promise<unknown> }> {
  const job = await client.infer({ prompt: 'a very long story', max_tokens: 32000 })
  const reached = deferred<void>()
  const done = job.collect((ev) => {
    if (ready(ev)) reached.resolve()
  })
  done.catch(() => {})
  await Promise.race([reached.promise, done])
  return { job, done }
}

test('with a full queue rbee infer waits for a place, then shows its position; --timeout ends it (exit 124), --no-wait fails at once (exit 75)', async () => {
  // A worker exists; one job runs on its only slot, another waits in the queue (now full).
  await (await client.infer({ prompt: 'warm up', max_tokens: 2 })).collect()
  const running = await longJob((ev) => ev.kind === 'token')
  const queued = await longJob((ev) => ev.kind === 'narration' && ev.narration.action === 'queued')
  try {
    const noWait = await sb.run(['infer', '--no-wait', 'hi'], { env })
    assert.equal(noWait.code, 75, noWait.stderr)
    assert.match(noWait.stderr, /all workers for tiny are busy and 1 requests are waiting/)
    assert.doesNotMatch(noWait.stderr, /waiting for a place/)

    const t0 = Date.now()
    const timed = await sb.run(['infer', '--timeout', '1.5', 'hi'], { env })
    const took = Date.now() - t0
    assert.equal(timed.code, 124, timed.stderr)
    assert.match(timed.stderr, /are waiting: waiting for a place in the queue \(up to [\d.]+ s more\)/)
    assert.match(timed.stderr, /deadline exceeded: no place in the queue became free within [\d.]+ s/)
    assert.ok(took >= 1500 && took < 6000, `rbee ran ${took} ms`)

    // Without --timeout it waits until there is room: first for a place in the queue, then, in
    // it, for a slot (its position shown), then it runs.
    const waiting = sb.spawn(['infer', '--max-tokens', '3', 'hi'], env)
    await waiting.waitFor('stderr', /waiting for a place in the queue \(Ctrl\+C stops\)/)
    await running.job.cancel()
    await waiting.waitFor('stderr', /all slots for tiny are busy: waiting, position 1 of 1/)
    await queued.job.cancel()
    const run = await waiting.done
    assert.equal(run.code, 0, run.stderr)
    assert.ok(run.stdout.trim().length > 0, 'tokens on stdout')
  } finally {
    await Promise.all([running.job.cancel(), queued.job.cancel()].map((p) => p.catch(() => {})))
    await Promise.all([running.done, queued.done].map((p) => p.catch(() => {})))
  }
})

test('rbee infer --timeout reaches the job: a generation past it stops with exit code 124', async () => {
  const run = await sb.run(['infer', '--timeout', '1', '--max-tokens', '30000', 'go on and on'], { env })
  assert.equal(run.code, 124, run.stderr)
  assert.ok(run.stdout.length > 0, 'the tokens before the deadline were printed')
  assert.match(run.stderr, /deadline exceeded: the job did not finish within [\d.]+ s \(\d+ tokens sent\)/)
  const bad = await sb.run(['infer', '--timeout', 'soon', 'hi'], { env })
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /--timeout must be a number of seconds/)
})
