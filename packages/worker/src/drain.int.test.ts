import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { silentLogger } from '@rbee/common'
import { tinyModelPath, waitFor } from '@rbee/testing'
import { LlamaEngine } from './engine/llama-engine.js'
import { Worker } from './worker.js'

test('close() lets an embedding request in flight finish before the engine goes', async () => {
  const logger = silentLogger()
  const modelPath = await tinyModelPath()
  const worker = new Worker({
    id: 'w-drain',
    modelRef: 'tiny',
    host: '127.0.0.1',
    port: 0,
    heartbeatIntervalMs: 10_000,
    graceMs: 30_000,
    slots: 1,
    device: [0],
    logger,
    loadEngine: (onLoadProgress) =>
      LlamaEngine.load({
        modelPath,
        backend: 'cpu',
        device: [0],
        slots: 1,
        ctxSize: 512,
        threads: 1,
        slotWaitMs: 1000,
        llamaBuild: 'prebuilt',
        warmup: 'off',
        logger,
        onLoadProgress,
      }),
  })
  after(() => worker.close())
  const port = await worker.listen()
  await worker.load()
  // Enough inputs that the embedding outlasts the poll below by far.
  const input = Array.from(
    { length: 256 },
    (_, i) => `document number ${i} about bees and hives, their queens and their workers`,
  )
  const answer = fetch(`http://127.0.0.1:${port}/v1/embeddings`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'tiny', input }),
  })
  await waitFor('the embedding to be in flight', () => worker.inFlight > 0, 10_000, 1)
  const closed = worker.close()
  const res = await answer
  assert.equal(res.status, 200, await res.clone().text())
  const body = (await res.json()) as { data: unknown[] }
  assert.equal(body.data.length, input.length)
  await closed
})
