import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Token } from 'node-llama-cpp'
import {
  plannedBatches,
  promptChunks,
  runWarmup,
  shouldWarmUp,
  type WarmupSequence,
  warmupPlan,
} from './warm-up.js'

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

/** Sequences that log what is asked of them: `s0 evaluate 7,8`, `s0 next 7`, `s0 return`, `s0 clear`. */
function fakeSequences(n: number, log: string[]): WarmupSequence[] {
  return Array.from({ length: n }, (_, i) => ({
    evaluate(tokens: Token[]) {
      log.push(`s${i} evaluate ${tokens.join(',')}`)
      return (async function* () {
        try {
          for (;;) {
            const fed = yield 0 as Token
            log.push(`s${i} next ${fed}`)
          }
        } finally {
          log.push(`s${i} return`)
        }
      })()
    },
    async clearHistory() {
      log.push(`s${i} clear`)
    },
  }))
}

const filler = [7, 8, 9] as Token[]

test('decode widths run their sequences together, feeding back a fixed token, and leave every sequence empty', async () => {
  const log: string[] = []
  const generating: number[] = []
  const done = await runWarmup({
    sequences: fakeSequences(2, log),
    plan: { decodeWidths: [1, 2], promptBatches: [3] },
    room: 10,
    filler,
    setGenerating: (n) => generating.push(n),
    deadline: Number.POSITIVE_INFINITY,
  })
  assert.equal(done, true)
  assert.deepEqual(generating, [1, 0, 2, 0])
  assert.deepEqual(log, [
    's0 evaluate 7',
    's0 next 7',
    's0 return',
    's0 clear',
    's0 evaluate 7',
    's1 evaluate 7',
    's0 next 7',
    's1 next 7',
    's0 return',
    's1 return',
    's0 clear',
    's1 clear',
    's0 evaluate 7,8,9',
    's0 return',
    's0 clear',
  ])
})

test('a prompt batch larger than a sequence holds is given to several sequences at once', async () => {
  const log: string[] = []
  await runWarmup({
    sequences: fakeSequences(3, log),
    plan: { decodeWidths: [], promptBatches: [5] },
    room: 2,
    filler,
    setGenerating: () => {},
    deadline: Number.POSITIVE_INFINITY,
  })
  assert.deepEqual(
    log.filter((l) => l.includes('evaluate')),
    ['s0 evaluate 7,8', 's1 evaluate 9,7', 's2 evaluate 8'],
  )
})

test('past its deadline the warm-up starts no more batches and says it stopped', async () => {
  const log: string[] = []
  const done = await runWarmup({
    sequences: fakeSequences(2, log),
    plan: { decodeWidths: [1, 2], promptBatches: [16] },
    room: 100,
    filler,
    setGenerating: () => {},
    deadline: performance.now() - 1,
  })
  assert.equal(done, false)
  assert.deepEqual(log, [])
})
