import assert from 'node:assert/strict'
import { copyFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { type JobStream, QueenClient } from '@rbee/client'
import { deferred } from '@rbee/common'
import type { FleetStatus, QueenStreamEvent } from '@rbee/contracts'
import {
  metricValue,
  type StartedHive,
  type StartedQueen,
  startHive,
  startQueen,
  tinyModelPath,
  waitFor,
} from '@rbee/testing'

// A queen in front of two real rbee-hive processes named in hives.conf (plus one that registers
// itself), real workers spawned on demand. Workers get one slot and the queue one place, so a
// third concurrent request is refused.
describe('queen-rbee in front of several hives', () => {
  // A stopped hive is offline after 2 s of silence here (the default, 10 s, rules out a hive
  // that is only starved by its machine's load; see the stall tests).
  const QUEEN_ARGS = [
    '--no-local-hive',
    '--worker-slots',
    '1',
    '--queue-size',
    '1',
    '--hive-wait-ms',
    '300',
    '--hive-offline-ms',
    '2000',
  ]
  let hiveA: StartedHive
  let hiveB: StartedHive
  let queen: StartedQueen
  let client: QueenClient
  let hivesConf: string

  before(async () => {
    ;[hiveA, hiveB] = await Promise.all([startHive({ hiveId: 'hive-a' }), startHive({ hiveId: 'hive-b' })])
    hivesConf = join(hiveA.home, 'hives.conf')
    await writeFile(
      hivesConf,
      `Host hive-a\n  HostName 127.0.0.1\n  HivePort ${hiveA.port}\n\nHost hive-b\n  HostName 127.0.0.1\n  HivePort ${hiveB.port}\n`,
    )
    queen = await startQueen({ hivesConf, args: QUEEN_ARGS })
    client = new QueenClient({ baseUrl: queen.url })
    await waitFor('both hives online', async () => (await client.info()).hives_online === 2)
  })
  after(async () => {
    await client?.close()
    await queen?.close()
    await Promise.all([hiveA?.close(), hiveB?.close()])
  })

  const status = (): Promise<FleetStatus> => client.status()
  const workerOf = async (model: string) => (await status()).workers.find((w) => w.model_id === model)
  const chat = (model: string) =>
    fetch(`${queen.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 }),
    })

  /** Waits for a queen stream event of `type` about `hiveId`. */
  const hiveEvent = (type: 'hive_online' | 'hive_offline', hiveId: string) => {
    const got = deferred<QueenStreamEvent>()
    const sub = client.heartbeats({
      onEvent: (ev) => {
        if (ev.type === type && ev.hive_id === hiveId) got.resolve(ev)
      },
    })
    const timer = setTimeout(() => got.reject(new Error(`no ${type} for ${hiveId} within 15 s`)), 15_000)
    return got.promise.finally(() => {
      clearTimeout(timer)
      void sub.close()
    })
  }

  test('a model only one hive has is routed to that hive, and a registering hive joins the fleet', async () => {
    // In hive-b's import dir: a hive imports only from there (or dirs its owner adds).
    const path = join(hiveB.home, 'import', 'tiny2.gguf')
    await copyFile(await tinyModelPath(), path)
    const ambiguous = await fetch(`${queen.url}/v1/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ operation: 'model_import', path, id: 'tiny2' }),
    })
    assert.equal(ambiguous.status, 400, 'two hives: the operation must name one')
    const imported = await (
      await client.run({ operation: 'model_import', hive_id: 'hive-b', path, id: 'tiny2' })
    ).collect()
    assert.equal(imported.outcome, 'done', imported.message ?? '')
    assert.ok(imported.narration.every((n) => n.human.startsWith('hive-b: ')))

    const models = await client.models()
    assert.deepEqual(
      models.data.map((m) => [m.id, m.loaded]),
      [
        ['tiny', false],
        ['tiny2', false],
      ],
    )
    const res = await chat('tiny2')
    assert.equal(res.status, 200, await res.clone().text())
    const worker = await workerOf('tiny2')
    assert.equal(worker?.hive_id, 'hive-b')
    assert.equal(res.headers.get('x-rbee-worker'), worker?.id)

    const hiveC = await startHive({ hiveId: 'hive-c', args: ['--queen-url', queen.url] })
    try {
      await waitFor('hive-c registered and online', async () =>
        (await client.hives()).some((h) => h.id === 'hive-c' && h.online && h.source === 'registration'),
      )
    } finally {
      await hiveC.close()
    }
  })

  test('with every slot busy and the queue full, a request gets 429 with Retry-After', async () => {
    const first = await client.infer({
      model: 'tiny2',
      prompt: 'a long answer',
      max_tokens: 1900,
      temperature: 0,
    })
    const firstToken = deferred<void>()
    const firstDone = first.collect((ev) => {
      if (ev.kind === 'token') firstToken.resolve()
    })
    await firstToken.promise
    const second: JobStream = await client.infer({
      model: 'tiny2',
      prompt: 'me next',
      max_tokens: 4,
      temperature: 0,
    })
    const queued = deferred<string>()
    const secondDone = second.collect((ev) => {
      if (ev.kind === 'narration' && ev.narration.action === 'queued') queued.resolve(ev.narration.human)
    })
    assert.match(await queued.promise, /position 1 of 1/)

    const third = await chat('tiny2')
    assert.equal(third.status, 429)
    assert.ok(Number(third.headers.get('retry-after')) >= 1)
    const body = (await third.json()) as { error: { type: string; code: string } }
    assert.deepEqual([body.error.type, body.error.code], ['rate_limit_error', 'RBEE_QUEUE_FULL'])

    await client.cancel(first.jobId)
    assert.equal((await firstDone).outcome, 'cancelled')
    const out = await secondDone
    assert.equal(out.outcome, 'done')
    assert.ok(out.tokens >= 1 && out.tokens <= 4)
  })

  test('a hive whose stream goes silent leaves routing with its workers, and comes back', async () => {
    const worker = await workerOf('tiny2')
    assert.equal(worker?.routable, true)
    const offline = hiveEvent('hive_offline', 'hive-b')
    hiveB.process.kill('SIGSTOP')
    let stopped = true
    try {
      const ev = await offline
      assert.ok(ev.type === 'hive_offline')
      const s = await status()
      assert.equal(s.hives.find((h) => h.id === 'hive-b')?.online, false)
      assert.equal(s.workers.find((w) => w.id === worker?.id)?.routable, false)
      const refused = await chat('tiny2')
      assert.equal(refused.status, 503)
      assert.match(
        ((await refused.json()) as { error: { message: string } }).error.message,
        /offline hives \(hive-b\)/,
      )
      const online = hiveEvent('hive_online', 'hive-b')
      hiveB.process.kill('SIGCONT')
      stopped = false
      await online
    } finally {
      if (stopped) hiveB.process.kill('SIGCONT')
    }
    const back = await waitFor(
      'the worker routable again',
      async () => (await workerOf('tiny2'))?.routable === true,
    )
    assert.ok(back)
    const res = await chat('tiny2')
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('x-rbee-worker'), worker?.id, 'the same worker serves again')
  })

  test('a queen restarted under a running fleet serves again without restarting anything', async () => {
    const before = await workerOf('tiny2')
    assert.ok(before?.pid)
    const port = queen.port
    await client.close()
    await queen.close()
    queen = await startQueen({ hivesConf, port, args: QUEEN_ARGS })
    client = new QueenClient({ baseUrl: queen.url })
    const after = await waitFor('the fleet rebuilt from hive streams', async () => {
      const s = await status()
      const w = s.workers.find((x) => x.model_id === 'tiny2' && x.routable)
      return s.hives.filter((h) => h.online).length === 2 && w ? w : undefined
    })
    assert.equal(after.id, before.id)
    assert.equal(after.pid, before.pid, 'the worker process was not restarted')
    assert.equal((await chat('tiny2')).status, 200)
    const m = await client.metrics()
    assert.equal(metricValue(m, 'rbee_queen_spawn_duration_seconds_count'), 0, 'no new worker was spawned')
  })
})
