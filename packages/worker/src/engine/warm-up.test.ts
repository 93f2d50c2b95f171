import assert from 'node:assert/strict'
import { test } from 'node:test'
import { plannedBatches, promptChunks, shouldWarmUp, warmupPlan } from './warm-up.js'

test('auto warms up on a GPU only; on and off do what they say on every backend', () => {
  assert.equal(shouldWarmUp('auto', 'cpu'), false)
  for (const gpu of ['cuda', 'vulkan', 'metal'] as const) assert.equal(shouldWarmUp('auto', gpu), true)
  for (const b of ['cpu', 'cuda', 'vulkan', 'metal'] as const) {
    assert.equal(shouldWarmUp('on', b), true)
    assert.equal(shouldWarmUp('off', b), false)
  }
})

test('a worker with 4 slots decodes 1 to 4 sequences at once and runs prompts of every size class up to its batch', () => {
  const plan = warmupPlan(4, 512, 4 * 2046)
  assert.deepEqual(plan.decodeWidths, [1, 2, 3, 4])
  assert.deepEqual(plan.promptBatches, [2, 3, 4, 5, 6, 7, 8, 16, 32, 48, 64, 96, 128, 192, 256, 384, 512])
})

test('16 slots decode up to 16 at once; an odd batch size is run as is, and nothing exceeds what the sequences hold', () => {
  assert.deepEqual(warmupPlan(16, 512, 16 * 198).decodeWidths.at(-1), 16)
  assert.deepEqual(warmupPlan(2, 300, 2 * 2046).promptBatches.slice(-3), [192, 256, 300])
  assert.deepEqual(warmupPlan(1, 512, 100).promptBatches.slice(-3), [64, 96, 100])
  assert.deepEqual(warmupPlan(1, 512, 1).promptBatches, [])
})

test('a prompt batch larger than one sequence holds is spread over as few as hold it', () => {
  assert.deepEqual(promptChunks(512, 2046), [512])
  assert.deepEqual(promptChunks(512, 198), [198, 198, 116])
  assert.deepEqual(promptChunks(396, 198), [198, 198])
})

test('each decode width runs two batches, then each prompt batch one', () => {
  assert.deepEqual(plannedBatches({ decodeWidths: [1, 2], promptBatches: [2, 16] }), [1, 1, 2, 2, 2, 16])
})
