import assert from 'node:assert/strict'
import { copyFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { QueenClient } from '@rbee/client'
import {
  metricValue,
  type StartedHive,
  type StartedQueen,
  startHive,
  startQueen,
  tinyModelPath,
  tinyWorkerMemoryMb,
  waitFor,
} from '@rbee/testing'

// A real queen and a real hive whose CPU offers RAM for 3 tiny workers and a half
// (`--cpu-memory-mb`: the hive reports that budget less its workers' estimates, so the memory
// figures are exact on a machine with far more RAM), four copies of the tiny model as m1..m4,
// m1 pinned in models.conf. Real workers are spawned, stopped and spawned again. The hive has
// one device (a CPU) and a hive cannot be given a second one here: that a replica goes to another
// device is a unit test of the spawner; here, that it never goes to the same one.
describe('queen making room and scaling out', () => {
  let hive: StartedHive
  let queen: StartedQueen
  let client: QueenClient
  let perWorkerMb: number

  before(async () => {
    perWorkerMb = await tinyWorkerMemoryMb()
    hive = await startHive({
      hiveId: 'box',
      args: ['--cpu-memory-mb', String(Math.floor(perWorkerMb * 3.5))],
    })
    const hivesConf = join(hive.home, 'hives.conf')
    await writeFile(hivesConf, `Host box\n  HostName 127.0.0.1\n  HivePort ${hive.port}\n`)
    await writeFile(join(hive.home, 'models.conf'), 'Model m1\n  pin yes\nModel m2\n  max_replicas 2\n')
    queen = await startQueen({
      hivesConf,
      args: [
        '--no-local-hive',
        '--models-conf',
        join(hive.home, 'models.conf'),
        '--scale-out-wait-ms',
        '300',
        '--evict-hysteresis-ms',
        '1000',
      ],
    })
    client = new QueenClient({ baseUrl: queen.url })
    await waitFor('the hive online', async () => (await client.info()).hives_online === 1)
    for (const id of ['m1', 'm2', 'm3', 'm4']) {
      const path = join(hive.home, 'import', `${id}.gguf`)
      await copyFile(await tinyModelPath(), path)
      const out = await (await client.run({ operation: 'model_import', hive_id: 'box', path, id })).collect()
      assert.equal(out.outcome, 'done', out.message ?? '')
    }
  })
  after(async () => {
    await client?.close()
    await queen?.close()
    await hive?.close()
  })

  /** A streamed chat that hears its queue and spawn progress (SSE comments) before its tokens. */
  const chat = async (model: string, maxTokens = 8) => {
    const res = await fetch(`${queen.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-rbee-progress': '1' },
      body: JSON.stringify({
        model,
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: maxTokens,
        stream: true,
      }),
    })
    const text = await res.text()
    assert.equal(res.status, 200, text)
    assert.match(text, /data: \[DONE\]/, text)
    return text
  }
  const workersOf = async (model: string) =>
    (await client.status()).workers.filter((w) => w.model_id === model && w.status !== 'stopping')

  test('a burst is served without a replica on the device its model runs on, and a model that fits nowhere evicts the least recently used unpinned idle worker', async () => {
    const refused = await fetch(`${queen.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-priority': 'urgent' },
      body: JSON.stringify({ model: 'm1', messages: [{ role: 'user', content: 'hi' }] }),
    })
    assert.equal(refused.status, 400)
    assert.match(
      ((await refused.json()) as { error: { message: string } }).error.message,
      /X-Request-Priority/,
    )
    // One at a time, so m2's load time (what a replica is weighed against) is its own; a first
    // m2 request as long as the burst's measures its time per request.
    await chat('m1')
    await chat('m2', 256)
    // 60 long requests on m2's 4 slots would wait far longer than 300 ms and than a worker takes
    // to load: scale-out asks for a replica, but the only device runs m2 already (though it has
    // room for one more worker): no replica, quietly, and every request is served (`chat`).
    const texts = await Promise.all(Array.from({ length: 60 }, () => chat('m2', 256)))
    const m2 = await workersOf('m2')
    assert.equal(m2.length, 1, JSON.stringify(m2))
    const metrics = await (await fetch(`${queen.url}/metrics`)).text()
    assert.equal(metricValue(metrics, 'rbee_queen_scale_outs_total', { model: 'm2' }), 0)
    assert.ok(!texts.some((t) => /scaling out m2/.test(t)), 'a replica that never starts is not announced')

    await chat('m3')
    const [pinned] = await workersOf('m1')
    assert.ok(pinned)
    // Three workers in a budget for 3.5: m4 needs room. m1 is the least recently used, but pinned.
    const text = await chat('m4')
    assert.match(
      text,
      /: spawn: evicting worker (\S+) \(model m2, idle [\d.]+ s\) on box\/cpu:0 to make room for m4 \(needs/,
    )
    assert.doesNotMatch(text, /RBEE_NO_CAPACITY/)
    assert.match(text, /: spawn: made room on box\/cpu:0/)
    await waitFor('the evicted worker gone', async () => (await workersOf('m2')).length === 0)
    assert.deepEqual(
      (await workersOf('m1')).map((w) => w.id),
      [pinned.id],
      'the pinned worker stays',
    )
    assert.equal((await workersOf('m4')).length, 1)
  })
})
