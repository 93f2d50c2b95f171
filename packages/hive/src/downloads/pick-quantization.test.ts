import assert from 'node:assert/strict'
import { test } from 'node:test'
import { pickGgufFile } from './pick-quantization.js'

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

test('split shards, vision projectors and non-GGUF files are never picked', () => {
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
