import assert from 'node:assert/strict'
import { test } from 'node:test'
import { hfModelId, hfSource, parseHfRef } from './hf-ref.js'

test('hf references parse into org, repo and an optional file', () => {
  assert.deepEqual(parseHfRef('hf:acme/tiny-GGUF'), { org: 'acme', repo: 'tiny-GGUF', file: undefined })
  assert.deepEqual(parseHfRef('hf:ggml-org/models:tinyllamas/stories260K.gguf'), {
    org: 'ggml-org',
    repo: 'models',
    file: 'tinyllamas/stories260K.gguf',
  })
  assert.throws(() => parseHfRef('hf:org/repo:../x.gguf'))
})

test('a downloaded model is named by its file, qualified by org and repo only when that name is taken', () => {
  const ref = { org: 'Qwen', repo: 'Qwen2.5-0.5B-Instruct-GGUF', file: 'qwen2.5-0.5b-instruct-q4_k_m.gguf' }
  assert.equal(hfSource(ref), 'hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF:qwen2.5-0.5b-instruct-q4_k_m.gguf')
  assert.equal(
    hfModelId(ref, () => false),
    'qwen2.5-0.5b-instruct-q4_k_m',
  )
  assert.equal(
    hfModelId(ref, (id) => id === 'qwen2.5-0.5b-instruct-q4_k_m'),
    'Qwen.Qwen2.5-0.5B-Instruct-GGUF.qwen2.5-0.5b-instruct-q4_k_m',
  )
  assert.equal(
    hfModelId({ org: 'o', repo: 'r', file: 'dir/m+x.gguf' }, () => false),
    'm-x',
  )
})
