import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { QueenClient } from '@rbee/client'
import {
  type FleetStatus,
  HiveWorkerSchema,
  type WorkerRecord,
  WorkerSpawnResultSchema,
} from '@rbee/contracts'
import {
  type FleetEventLog,
  metricValue,
  type StartedHive,
  type StartedQueen,
  startHive,
  startQueen,
  waitFor,
  watchQueenEvents,
} from '@rbee/testing'
import { z } from 'zod'
import { stallBounds } from './proxy/stall-watch.js'

// Stalls at every hop, against real processes: a queen in front of one rbee-hive with two real
// tiny workers. Workers and the hive are frozen with SIGSTOP (alive, holding their sockets, never
// answering), which is what a hung process looks like from outside. The bounds are shortened by
// flags so the test runs in seconds: the queen gives a worker 1 s to its first token (raised for
// the prompt's length, see `stallBounds`) and 0.8 s between tokens, and sends keep-alives every
// 0.2 s; the hive probes each worker every 0.2 s, gives it 2 s to answer (so the queen's own
// bounds act first), and kills one unresponsive for 2 s.
const FIRST_TOKEN_MS = 1000
const TOKEN_GAP_MS = 800
const PROBE_TIMEOUT_MS = 2000
const RESTART_AFTER_MS = 2000
/** Timer lag and event trips on a machine loaded by the rest of the suite. */
const SLACK_MS = 1500

describe('stalls: frozen workers and a frozen hive', () => {
  let hive: StartedHive
  let queen: StartedQueen
  let client: QueenClient
  let events: FleetEventLog
  const frozen = new Set<number>()
  const freeze = (pid: number): void => {
    frozen.add(pid)
    process.kill(pid, 'SIGSTOP')
  }
  const thaw = (pid: number): void => {
    frozen.delete(pid)
    process.kill(pid, 'SIGCONT')
  }

  before(async () => {
    hive = await startHive({
      hiveId: 'h1',
      args: [
        '--worker-probe-interval-ms',
        '200',
        '--worker-probe-timeout-ms',
        String(PROBE_TIMEOUT_MS),
        '--worker-unresponsive-restart-ms',
        String(RESTART_AFTER_MS),
        '--restart-backoff-ms',
        '100',
      ],
    })
    const hivesConf = join(hive.home, 'hives.conf')
    await writeFile(hivesConf, `Host h1\n  HostName 127.0.0.1\n  HivePort ${hive.port}\n`)
    queen = await startQueen({
      hivesConf,
      args: [
        '--no-local-hive',
        '--first-token-timeout-ms',
        String(FIRST_TOKEN_MS),
        '--token-gap-timeout-ms',
        String(TOKEN_GAP_MS),
        '--keep-alive-ms',
        '200',
      ],
    })
    client = new QueenClient({ baseUrl: queen.url })
    await waitFor('h1 online', async () => (await client.info()).hives_online === 1)
    await Promise.all([spawn(), spawn()])
    events = await watchQueenEvents(client)
  })
  after(async () => {
    for (const pid of frozen) process.kill(pid, 'SIGCONT')
    await events?.close()
    await client?.close()
    await queen?.close()
    await hive?.close()
  })

  const status = (): Promise<FleetStatus> => client.status()
  const spawn = async (): Promise<string> => {
    const job = await client.run({
      operation: 'worker_spawn',
      hive_id: 'h1',
      model: 'tiny',
      worker: 'cpu',
      device: 0,
      slots: 2,
    })
    const { worker_id: id } = await job.result(WorkerSpawnResultSchema)
    await waitFor(`${id} routable`, async () =>
      (await status()).workers.some((w) => w.id === id && w.routable),
    )
    return id
  }
  const worker = async (id: string): Promise<WorkerRecord | undefined> =>
    (await status()).workers.find((w) => w.id === id)

  /** A streamed completion read to its end: who served it, what came, how long it took. */
  const completionBody = (maxTokens: number): string =>
    JSON.stringify({ model: 'tiny', prompt: 'tell me', max_tokens: maxTokens, temperature: 0, stream: true })
  const complete = async (maxTokens: number, onText?: (all: string) => void) => {
    const t0 = performance.now()
    const res = await fetch(`${queen.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: completionBody(maxTokens),
    })
    let text = ''
    const decoder = new TextDecoder()
    for await (const chunk of res.body!) {
      text += decoder.decode(chunk, { stream: true })
      onText?.(text)
    }
    return { status: res.status, worker: res.headers.get('x-rbee-worker'), text, ms: performance.now() - t0 }
  }

  test('a worker frozen before its first token: its requests move to the other worker within the first-token bound, its hive reports it unresponsive, and after SIGCONT it is ready again', async () => {
    const [a, b] = (await status()).workers
    assert.ok(a?.pid && b?.pid)
    // These workers sent no heartbeat with their speed: the bound assumes a slow CPU's.
    const bound = stallBounds(
      { firstTokenMs: FIRST_TOKEN_MS, tokenGapMs: TOKEN_GAP_MS },
      completionBody(8).length,
      null,
    )
    assert.ok(bound.firstTokenMs < PROBE_TIMEOUT_MS, `bound ${bound.firstTokenMs} ms`)
    const stoppedAt = Date.now()
    freeze(a.pid)
    // Two slots each: of four requests at once the queen sends two to the frozen worker.
    const answers = await Promise.all([0, 1, 2, 3].map(() => complete(8)))
    for (const r of answers) {
      assert.equal(r.status, 200)
      assert.equal(r.worker, b.id, 'served by the worker that answers')
      assert.match(r.text, /data: \[DONE\]/)
      assert.ok(r.ms < bound.firstTokenMs + SLACK_MS, `answered after ${Math.round(r.ms)} ms`)
    }
    const m = await client.metrics()
    assert.ok(
      metricValue(m, 'rbee_queen_retries_total', { reason: 'worker_stalled' }) >= 1,
      `retried as stalled: ${m.split('\n').filter((l) => l.startsWith('rbee_queen_retries_total'))}; ${JSON.stringify(answers.map((r) => [r.worker, Math.round(r.ms)]))}`,
    )

    const unresponsive = await events.next(
      `worker_status unresponsive for ${a.id}`,
      (e) => e.type === 'worker_status' && e.worker.id === a.id && e.worker.status === 'unresponsive',
      { since: stoppedAt, timeoutMs: 10_000 },
    )
    assert.ok(unresponsive.at - stoppedAt < 200 + PROBE_TIMEOUT_MS + SLACK_MS)
    const seen = await worker(a.id)
    assert.equal(seen?.status, 'unresponsive')
    assert.equal(seen?.routable, false)

    thaw(a.pid)
    await events.next(
      `worker_status ready for ${a.id}`,
      (e) => e.type === 'worker_status' && e.worker.id === a.id && e.worker.status === 'ready',
      { since: unresponsive.at, timeoutMs: 10_000 },
    )
    const back = await worker(a.id)
    assert.equal(back?.pid, a.pid, 'a worker that recovers keeps its process')
    // The worker that kept decoding answered every probe meanwhile.
    assert.ok(!events.events.some((e) => e.event.type === 'worker_status' && e.event.worker.id === b.id))
  })

  test('workers frozen mid-stream: streams end within the token-gap bound with RBEE_WORKER_STALLED (keep-alives while waiting), and the hive kills and restarts a worker that stays frozen', async () => {
    const before = (await status()).workers
    assert.equal(before.length, 2)
    let stoppedAt = 0
    const stopAll = (): void => {
      if (stoppedAt) return
      stoppedAt = Date.now()
      for (const w of before) freeze(w.pid!)
    }
    const tokens = (text: string): number => text.split('"finish_reason":null').length - 1
    // One OpenAI stream and one infer job, both long: frozen once both have tokens.
    let streamed = ''
    let jobTokens = 0
    const openAi = complete(1900, (all) => {
      streamed = all
      if (tokens(all) >= 5 && jobTokens >= 5) stopAll()
    })
    const job = await client.infer({ model: 'tiny', prompt: 'and more', max_tokens: 1900, temperature: 0 })
    const jobOut = job.collect((ev) => {
      if (ev.kind === 'token' && ++jobTokens >= 5 && tokens(streamed) >= 5) stopAll()
    })
    const [r, out] = await Promise.all([openAi, jobOut])
    const endedAt = Date.now()
    assert.ok(
      stoppedAt > 0,
      `the workers were frozen mid-stream (stream: ${tokens(r.text)}, job: ${jobTokens} tokens)`,
    )

    assert.equal(r.status, 200)
    const frames = r.text.trimEnd().split('\n\n')
    assert.match(frames.at(-1)!, /^data: \{"error":\{.*"code":"RBEE_WORKER_STALLED"/)
    assert.match(r.text, /\n: keep-alive\n\n/, 'the queen kept the quiet stream alive')
    assert.equal(out.outcome, 'error')
    assert.match(out.message ?? '', /^RBEE_WORKER_STALLED: .*sent no token for \d+ ms/)
    assert.ok(
      endedAt - stoppedAt < TOKEN_GAP_MS + SLACK_MS,
      `streams ended ${endedAt - stoppedAt} ms after the freeze`,
    )

    // One thawed in time recovers as it was; the one left frozen is unresponsive, then killed
    // and restarted by its hive (same id, new process).
    const [kept, left] = before as [WorkerRecord, WorkerRecord]
    thaw(kept.pid!)
    const exited = await events.next(
      `worker_exited for ${left.id}`,
      (e) => e.type === 'worker_exited' && e.worker_id === left.id,
      { since: stoppedAt, timeoutMs: 20_000 },
    )
    frozen.delete(left.pid!)
    assert.ok(exited.event.type === 'worker_exited')
    assert.equal(exited.event.signal, 'SIGKILL')
    assert.ok(exited.event.restarting)
    assert.match(exited.event.reason, new RegExp(`unresponsive for ${RESTART_AFTER_MS} ms`))
    assert.ok(exited.at - stoppedAt < PROBE_TIMEOUT_MS + RESTART_AFTER_MS + 200 + SLACK_MS)
    const restarted = await waitFor(
      `${left.id} restarted and routable`,
      async () => (await status()).workers.find((x) => x.id === left.id && x.routable && x.pid !== left.pid),
      20_000,
    )
    assert.ok(restarted)
    const listed = await (await client.run({ operation: 'worker_list', hive_id: 'h1' })).result(
      z.object({ workers: z.array(HiveWorkerSchema) }),
    )
    assert.deepEqual(
      listed.workers.map((w) => [w.worker.id, w.pid, w.restarts]).sort(),
      [
        [kept.id, kept.pid, 0],
        [left.id, restarted.pid, 1],
      ].sort(),
    )
    assert.ok(!events.events.some((e) => e.event.type === 'worker_exited' && e.event.worker_id === kept.id))
    const again = await complete(8)
    assert.equal(again.status, 200)
    assert.match(again.text, /data: \[DONE\]/)
  })

  test('a hive frozen for a moment is suspect, not offline: spawns started meanwhile wait and succeed, requests keep being served', async () => {
    const pid = hive.pid
    const stoppedAt = Date.now()
    freeze(pid)
    let spawns: Array<Promise<string>> = []
    let served: Array<Awaited<ReturnType<typeof complete>>> = []
    try {
      await events.next('hive_suspect for h1', (e) => e.type === 'hive_suspect' && e.hive_id === 'h1', {
        since: stoppedAt,
        timeoutMs: 5000,
      })
      // Met by a quiet hive (the old rule called it offline after 1 s and refused them).
      spawns = [spawn(), spawn()]
      // Its workers still serve: the hive being quiet does not take them out of routing.
      served = await Promise.all([0, 1, 2, 3].map(() => complete(8)))
      await waitFor('2 s of freeze', () => Date.now() - stoppedAt >= 2000, 5000)
    } finally {
      thaw(pid)
    }
    const ids = await Promise.all(spawns)
    assert.equal(new Set(ids).size, 2)
    for (const r of served) assert.equal(r.status, 200)
    await events.next('hive_steady for h1', (e) => e.type === 'hive_steady' && e.hive_id === 'h1', {
      since: stoppedAt,
    })
    const hiveEvents = events.events.filter((e) => e.at >= stoppedAt && 'hive_id' in e.event)
    assert.ok(
      !hiveEvents.some((e) => e.event.type === 'hive_offline'),
      `no hive_offline: ${JSON.stringify(hiveEvents.map((e) => e.event.type))}`,
    )
    // Its workers' probes, late while the hive was frozen, found them answering.
    assert.ok(!hiveEvents.some((e) => e.event.type === 'worker_status'), 'no worker was called unresponsive')
  })
})
