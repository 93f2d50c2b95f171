import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { test } from 'node:test'
import { TINY_RERANKER_SPEC } from './builtin-model.js'
import { readGgufHeader } from './gguf-reader.js'
import { encodeGguf, writeGguf } from './gguf-writer.js'
import { describeRerankerModel } from './reranker-model.js'
import { scratchDir } from './scratch-dir.js'

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

test('the tiny reranker is deterministic, a Qwen3 with per-head norms and a two-label classification head', async () => {
  const bytes = encodeGguf(describeRerankerModel(TINY_RERANKER_SPEC))
  assert.equal(sha256(encodeGguf(describeRerankerModel({ ...TINY_RERANKER_SPEC }))), sha256(bytes))
  const path = join(await scratchDir('reranker'), 'tiny-rerank.gguf')
  await writeGguf(path, describeRerankerModel(TINY_RERANKER_SPEC))
  const h = await readGgufHeader(path)
  assert.equal(h.architecture, 'qwen3')
  assert.equal(h.contextLength, TINY_RERANKER_SPEC.contextLength)
  assert.deepEqual(h.metadata.get('qwen3.classifier.output_labels'), ['yes', 'no'])
  assert.equal(h.metadata.get('qwen3.pooling_type'), 4)
  assert.ok(![...h.metadata.keys()].some((k) => k.startsWith('llama.')))
  const cls = h.tensors.find((t) => t.name === 'cls.output.weight')
  assert.deepEqual(cls?.dims, [TINY_RERANKER_SPEC.embeddingLength, 2])
  const headDim = TINY_RERANKER_SPEC.embeddingLength / TINY_RERANKER_SPEC.headCount
  for (let b = 0; b < TINY_RERANKER_SPEC.blockCount; b++) {
    for (const norm of ['attn_q_norm', 'attn_k_norm'])
      assert.deepEqual(h.tensors.find((t) => t.name === `blk.${b}.${norm}.weight`)?.dims, [headDim])
  }
})
