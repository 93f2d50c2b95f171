import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MAX_MODEL_PARTS } from '@rbee/contracts'
import { splitPartNames } from '@rbee/gguf'
import { chooseBySize, ggufCandidates, pickGgufFile, type SizedCandidate } from './pick-quantization.js'

test('Q4_K_M is preferred, then Q5_K_M, Q4_0, Q8_0', () => {
  const repo = [
    'README.md',
    'qwen2.5-0.5b-instruct-fp16.gguf',
    'qwen2.5-0.5b-instruct-q8_0.gguf',
    'qwen2.5-0.5b-instruct-q4_0.gguf',
    'qwen2.5-0.5b-instruct-q5_k_m.gguf',
    'qwen2.5-0.5b-instruct-q4_k_m.gguf',
  ]
  assert.equal(pickGgufFile(repo), 'qwen2.5-0.5b-instruct-q4_k_m.gguf')
  assert.equal(pickGgufFile(repo.filter((f) => !f.includes('q4_k_m'))), 'qwen2.5-0.5b-instruct-q5_k_m.gguf')
  assert.equal(pickGgufFile(['m.Q8_0.gguf', 'm.Q4_0.gguf']), 'm.Q4_0.gguf')
  assert.equal(pickGgufFile(['m.F16.gguf', 'm.Q8_0.gguf']), 'm.Q8_0.gguf')
})

test('a split model is a candidate by its first part when every part is listed; later parts and incomplete splits never are', () => {
  const parts = [
    'big-Q4_K_M-00001-of-00003.gguf',
    'big-Q4_K_M-00002-of-00003.gguf',
    'big-Q4_K_M-00003-of-00003.gguf',
  ]
  assert.deepEqual(ggufCandidates([...parts, 'big-Q6_K.gguf']), [
    'big-Q4_K_M-00001-of-00003.gguf',
    'big-Q6_K.gguf',
  ])
  assert.deepEqual(ggufCandidates([parts[0]!, parts[2]!, 'big-Q6_K.gguf']), ['big-Q6_K.gguf'])
  // Every part listed, but more of them than a catalog entry may hold: never a candidate.
  const huge = splitPartNames(`huge-Q4_K_M-00001-of-${String(MAX_MODEL_PARTS + 1).padStart(5, '0')}.gguf`)!
  assert.deepEqual(ggufCandidates([...huge, 'big-Q6_K.gguf']), ['big-Q6_K.gguf'])
  const most = splitPartNames(`most-Q4_K_M-00001-of-${String(MAX_MODEL_PARTS).padStart(5, '0')}.gguf`)!
  assert.deepEqual(ggufCandidates([...most, 'big-Q6_K.gguf']), [most[0], 'big-Q6_K.gguf'])
})

test('incomplete split shards, vision projectors and non-GGUF files are never picked', () => {
  assert.equal(
    pickGgufFile([
      'big-Q4_K_M-00001-of-00003.gguf',
      'mmproj-model-f16.gguf',
      'model.safetensors',
      'big-Q6_K.gguf',
    ]),
    'big-Q6_K.gguf',
  )
  assert.equal(pickGgufFile(['model.safetensors', 'README.md']), undefined)
})

test('among files of the same quantization the plain (shortest) name wins; unknown names come last', () => {
  assert.equal(pickGgufFile(['m-Q4_K_M-imatrix.gguf', 'm-Q4_K_M.gguf']), 'm-Q4_K_M.gguf')
  assert.equal(pickGgufFile(['weird.gguf', 'm.IQ4_XS.gguf']), 'm.IQ4_XS.gguf')
  assert.equal(pickGgufFile(['sub/dir/model.Q4_K_M.gguf']), 'sub/dir/model.Q4_K_M.gguf')
})

const GIB = 1024 * 1024 * 1024
// As a 7B repo lists them, in name order (ggufCandidates), with the sizes its files have.
const seven: SizedCandidate[] = [
  { file: 'm.Q4_K_M.gguf', sizeBytes: 4.4 * GIB, estimateMb: 5200 },
  { file: 'm.Q5_K_M.gguf', sizeBytes: 5.1 * GIB, estimateMb: 5900 },
  { file: 'm.Q8_0.gguf', sizeBytes: 7.7 * GIB, estimateMb: 8600 },
  { file: 'm.Q2_K.gguf', sizeBytes: 2.7 * GIB, estimateMb: 3500 },
  { file: 'm.F16.gguf', sizeBytes: 14.5 * GIB, estimateMb: 15500 },
]

test('the largest quantization whose estimate fits the free memory of the target device is picked, and the narration says why', () => {
  const on24 = chooseBySize(seven, 24_000, 'gpu:0 (RTX 4090)')
  assert.equal(on24.file, 'm.F16.gguf')
  assert.match(
    on24.why,
    /^the largest of 5 quantizations that fits the 24000 MiB free on gpu:0 \(RTX 4090\) \(m\.F16\.gguf needs ~15500 MiB\)$/,
  )
  const on8 = chooseBySize(seven, 8000, 'gpu:0 (RTX 3070)')
  assert.equal(on8.file, 'm.Q5_K_M.gguf')
  assert.match(on8.why, /m\.Q5_K_M\.gguf needs ~5900 MiB; m\.Q8_0\.gguf needs ~8600 MiB\)$/)
  assert.equal(chooseBySize(seven, 5200, 'cpu:0').file, 'm.Q4_K_M.gguf')
  assert.equal(chooseBySize(seven, 4000, 'cpu:0').file, 'm.Q2_K.gguf')
})

test('when nothing fits, the smallest is taken and said not to fit; equal sizes keep the name order', () => {
  const none = chooseBySize(seven, 1000, 'cpu:0')
  assert.equal(none.file, 'm.Q2_K.gguf')
  assert.equal(none.fits, false)
  assert.match(none.why, /^none of the 5 quantizations fits the 1000 MiB free on cpu:0; took the smallest/)
  const same = [
    { file: 'a.Q4_K_M.gguf', sizeBytes: 10, estimateMb: 100 },
    { file: 'a.F32.gguf', sizeBytes: 10, estimateMb: 100 },
  ]
  assert.equal(chooseBySize(same, 1000, 'cpu:0').file, 'a.Q4_K_M.gguf')
  assert.throws(() => chooseBySize([], 1000, 'cpu:0'), RangeError)
})
