import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { test } from 'node:test'
import { WorkerSpawnResultSchema } from '@rbee/contracts'
import {
  hasMetric,
  LocalHub,
  metricValue,
  payloadOf,
  runJob,
  startHive,
  tinyModelPath,
  waitFor,
} from '@rbee/testing'

const TOKEN = 'node-token-hive-metrics'
const headers = { authorization: `Bearer ${TOKEN}` }

// A real hive with its node token, downloading from a local hub (no network), a real worker.
test('/metrics on a real hive counts downloads and their bytes, spawns, crashes and restarts, workers by state and devices', async (t) => {
  const model = await readFile(await tinyModelPath())
  const hub = await LocalHub.start()
  t.after(() => hub.close())
  hub.addRepo('acme', 'tiny-GGUF', { 'tiny.Q8_0.gguf': model })
  const hive = await startHive({
    token: TOKEN,
    env: { HF_ENDPOINT: hub.url },
    args: ['--restart-backoff-ms', '0'],
  })
  t.after(() => hive.close())
  const metrics = async (): Promise<string> => {
    const res = await fetch(`${hive.url}/metrics`, { headers })
    assert.equal(res.status, 200)
    return res.text()
  }
  assert.equal((await fetch(`${hive.url}/metrics`)).status, 401, 'the node token is needed')
  const download = { operation: 'model_download', model: 'hf:acme/tiny-GGUF:tiny.Q8_0.gguf' }
  assert.equal((await runJob(hive.url, download, { headers })).outcome, 'done')
  // The same file again: nothing is transferred.
  assert.equal((await runJob(hive.url, download, { headers })).outcome, 'done')
  const spawned = WorkerSpawnResultSchema.parse(
    payloadOf(
      await runJob(
        hive.url,
        { operation: 'worker_spawn', model: 'tiny', worker: 'cpu', slots: 1, ctx_size: 512 },
        { headers },
      ),
      'worker_spawned',
    ),
  )
  process.kill(spawned.pid, 'SIGKILL')
  const m = await waitFor('the killed worker restarted and ready', async () => {
    const text = await metrics()
    const back =
      metricValue(text, 'rbee_hive_worker_restarts_total') === 1 &&
      metricValue(text, 'rbee_hive_workers', { state: 'ready' }) === 1
    return back && text
  })
  assert.equal(metricValue(m, 'rbee_hive_downloads_total', { outcome: 'done' }), 1)
  assert.equal(metricValue(m, 'rbee_hive_downloads_total', { outcome: 'skipped' }), 1)
  assert.equal(metricValue(m, 'rbee_hive_download_bytes_total'), model.length)
  assert.equal(metricValue(m, 'rbee_hive_downloads_active'), 0)
  assert.equal(metricValue(m, 'rbee_hive_worker_spawns_total'), 2, 'the spawn and its restart')
  assert.equal(metricValue(m, 'rbee_hive_worker_crashes_total'), 1)
  assert.equal(metricValue(m, 'rbee_hive_workers'), 1, 'one worker, in one state')
  // This machine's CPU (tests run without nvidia-smi: no GPU is reported).
  assert.equal(metricValue(m, 'rbee_hive_devices', { type: 'cpu' }), 1)
  assert.equal(metricValue(m, 'rbee_hive_devices', { type: 'gpu' }), 0)
  const total = metricValue(m, 'rbee_hive_device_memory_total_bytes', { device: 'cpu:0' })
  const used = metricValue(m, 'rbee_hive_device_memory_used_bytes', { device: 'cpu:0' })
  assert.ok(total > 0 && used > 0 && used <= total, `cpu:0 memory ${used} of ${total} bytes`)
  assert.ok(
    hasMetric(m, 'rbee_hive_process_resident_memory_bytes'),
    'process metrics, named as the queen does',
  )
})
