import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { hasMetric, metricValue, type StartedWorker, startWorker, waitFor } from '@rbee/testing'

const TOKEN = 'node-token-metrics-1'
const auth = { authorization: `Bearer ${TOKEN}` }

// A real worker with the tiny model (2 slots), its node token set, its info lines logged.
describe('llm-worker-rbee metrics and signals', () => {
  let worker: StartedWorker
  before(async () => {
    worker = await startWorker({ args: ['--api-token', TOKEN], env: { RBEE_LOG_LEVEL: 'info' } })
  })
  after(() => worker?.close())

  test('/metrics counts generations, tokens, time to first token and slots after real work', async () => {
    assert.equal((await fetch(`${worker.url}/metrics`)).status, 401, 'the node token is needed')
    const usage = await Promise.all(
      [1, 2, 3].map(async (seed) => {
        const res = await fetch(`${worker.url}/v1/completions`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'tiny', prompt: 'Hello bees', max_tokens: 6, seed }),
        })
        assert.equal(res.status, 200)
        return ((await res.json()) as { usage: { prompt_tokens: number; completion_tokens: number } }).usage
      }),
    )
    const res = await fetch(`${worker.url}/metrics`, { headers: auth })
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/)
    const m = await res.text()
    const sum = (k: 'prompt_tokens' | 'completion_tokens') => usage.reduce((a, u) => a + u[k], 0)
    assert.equal(metricValue(m, 'rbee_worker_requests_total', { outcome: 'ok' }), 3)
    assert.equal(metricValue(m, 'rbee_worker_tokens_total'), sum('completion_tokens'))
    assert.equal(metricValue(m, 'rbee_worker_prompt_tokens_total'), sum('prompt_tokens'))
    assert.equal(metricValue(m, 'rbee_worker_time_to_first_token_seconds_count'), 3)
    assert.ok(metricValue(m, 'rbee_worker_time_to_first_token_seconds_sum') > 0)
    // Each records its wait for a slot (three requests, two slots: one of them waited).
    assert.equal(metricValue(m, 'rbee_worker_queue_wait_seconds_count'), 3)
    assert.equal(metricValue(m, 'rbee_worker_requests_waiting'), 0)
    assert.equal(metricValue(m, 'rbee_worker_slots'), 2)
    assert.equal(metricValue(m, 'rbee_worker_slots_busy'), 0)
    assert.ok(
      hasMetric(m, 'rbee_worker_process_resident_memory_bytes'),
      'process metrics, named as the queen does',
    )
  })

  test('SIGHUP does not stop a worker: it logs that it has nothing to reload and keeps serving', async () => {
    worker.process.kill('SIGHUP')
    await waitFor('the SIGHUP log line', () =>
      worker.process.stderrLines.some((l) => l.includes('SIGHUP: nothing to reload')),
    )
    assert.equal(worker.process.hasExited, false)
    assert.equal((await fetch(`${worker.url}/health`)).status, 200)
  })
})
