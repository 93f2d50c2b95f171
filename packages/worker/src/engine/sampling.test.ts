import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RbeeError } from '@rbee/common'
import { resolveSampling, SAMPLING_DEFAULTS } from './sampling.js'

test('sampling defaults follow llama.cpp and null means default', () => {
  const s = resolveSampling({ temperature: null, top_k: null, stop: null }, 4096)
  assert.equal(s.temperature, SAMPLING_DEFAULTS.temperature)
  assert.equal(s.topK, 40)
  assert.equal(s.maxTokens, 512)
  assert.deepEqual(s.stop, [])
  assert.equal(s.seed, undefined)
})

test('max_tokens above the context is refused naming the field the client used', () => {
  assert.throws(
    () => resolveSampling({ max_tokens: 5000 }, 2048, 'max_completion_tokens'),
    (e: unknown) =>
      e instanceof RbeeError &&
      e.status === 400 &&
      /max_completion_tokens: 5000 is more than .* 2048/.test(e.message),
  )
  assert.equal(resolveSampling({}, 100).maxTokens, 100)
})

test('a single stop string becomes a list', () => {
  assert.deepEqual(resolveSampling({ stop: 'END' }, 512).stop, ['END'])
})
