import assert from 'node:assert/strict'
import { test } from 'node:test'
import { GgufFormatError } from './gguf-format-error.js'
import type { GgufHeader } from './gguf-reader.js'
import { estimateWorkerMemoryMb } from './memory-estimate.js'

const GIB = 1024 ** 3

/** The figures of Llama-2-7B at Q4_K_M (3.8 GiB on disk). */
const llama7b: GgufHeader = {
  path: '/models/llama-2-7b.Q4_K_M.gguf',
  version: 3,
  fileSize: Math.round(3.8 * GIB),
  alignment: 32,
  dataOffset: 1 << 20,
  architecture: 'llama',
  parameterCount: 6_738_415_616,
  quantization: 'Q4_K_M',
  contextLength: 4096,
  embeddingLength: 4096,
  blockCount: 32,
  feedForwardLength: 11008,
  headCount: 32,
  headCountKv: 32,
  vocabSize: 32000,
  metadata: new Map(),
  tensors: [],
}

test('a 7B model at 4k context needs its weights, a 2 GiB KV cache and a few hundred MB more', () => {
  const mb = estimateWorkerMemoryMb(llama7b, { ctxSize: 4096, slots: 1 })
  const weightsMb = 3.8 * 1024
  const kvMb = 2048 // 2 * 32 layers * 4096 tokens * 4096 * 2 bytes
  assert.ok(mb > weightsMb + kvMb + 100, `${mb} MiB covers weights, KV cache and runtime`)
  assert.ok(mb < weightsMb + kvMb + 1024, `${mb} MiB is not wildly above them`)
})

test('the KV cache grows with slots and context, and shrinks with grouped-query attention', () => {
  const one = estimateWorkerMemoryMb(llama7b, { ctxSize: 2048, slots: 1 })
  const four = estimateWorkerMemoryMb(llama7b, { ctxSize: 2048, slots: 4 })
  const longer = estimateWorkerMemoryMb(llama7b, { ctxSize: 8192, slots: 1 })
  assert.ok(four - one >= 3 * 1024, 'three more 2k slots add at least 3 GiB of KV cache')
  assert.ok(longer >= four, 'one 8k slot needs at least what four 2k slots do')
  const gqa = estimateWorkerMemoryMb({ ...llama7b, headCountKv: 8 }, { ctxSize: 2048, slots: 4 })
  assert.ok(four - gqa >= 3 * 1024 * 0.75, 'a quarter of the KV heads needs a quarter of the cache')
})

test('a tiny model needs little more than the runtime', () => {
  const tiny: GgufHeader = {
    ...llama7b,
    fileSize: 509_536,
    embeddingLength: 64,
    blockCount: 2,
    feedForwardLength: 128,
    headCount: 4,
    headCountKv: 2,
    vocabSize: 396,
  }
  const mb = estimateWorkerMemoryMb(tiny, { ctxSize: 2048, slots: 4 })
  assert.ok(mb >= 100 && mb < 250, `${mb} MiB`)
})

test('the estimate refuses nonsense options and headers without the figures it needs', () => {
  assert.throws(() => estimateWorkerMemoryMb(llama7b, { ctxSize: 0, slots: 1 }), RangeError)
  assert.throws(() => estimateWorkerMemoryMb(llama7b, { ctxSize: 512, slots: 1.5 }), RangeError)
  assert.throws(
    () => estimateWorkerMemoryMb({ ...llama7b, blockCount: undefined }, { ctxSize: 512, slots: 1 }),
    (err: unknown) => err instanceof GgufFormatError && /llama.block_count is missing/.test(err.message),
  )
})
