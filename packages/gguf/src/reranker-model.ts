import type { GgufFileInput, GgufMetadataEntry, GgufTensorInput } from './gguf-writer.js'
import { describeLlamaModel, type LlamaModelSpec } from './model-generator.js'
import { hashSeed, mulberry32 } from './prng.js'

/**
 * The labels of the reranker's classification head, as Qwen3-Reranker's converted GGUF files
 * name them: llama.cpp applies a softmax over the head's outputs and node-llama-cpp reads the
 * first one as the relevance probability.
 */
const RERANK_LABELS = ['yes', 'no'] as const
/** llama.cpp's `LLAMA_POOLING_TYPE_RANK`: the pooling a ranking context uses. */
const POOLING_TYPE_RANK = 4

/**
 * Describes a tiny reranking model: the llama model of `spec` as a Qwen3 architecture (llama.cpp
 * loads a classification head, `cls.output.weight`, only for architectures that rank, and Qwen3 is
 * the llama-shaped one) with per-head Q/K norms and a random (seeded) two-label head. Its scores
 * mean nothing, but they come from llama.cpp's real ranking pass: deterministic, in (0, 1), and
 * different for different pairs.
 *
 * @throws RangeError for an invalid spec.
 */
export function describeRerankerModel(spec: LlamaModelSpec): GgufFileInput {
  const llama = describeLlamaModel(spec)
  const n = spec.embeddingLength
  const headDim = n / spec.headCount
  const metadata: GgufMetadataEntry[] = llama.metadata.map((e): GgufMetadataEntry => {
    if (e.key === 'general.architecture') return { key: e.key, type: 'string', value: 'qwen3' }
    return e.key.startsWith('llama.') ? { ...e, key: `qwen3.${e.key.slice('llama.'.length)}` } : e
  })
  metadata.push(
    { key: 'qwen3.pooling_type', type: 'uint32', value: POOLING_TYPE_RANK },
    { key: 'qwen3.classifier.output_labels', type: 'array', itemType: 'string', value: [...RERANK_LABELS] },
  )
  const ones = (name: string, length: number): GgufTensorInput => ({
    name,
    type: 'F32',
    dims: [length],
    data: () => new Float32Array(length).fill(1),
  })
  const tensors: GgufTensorInput[] = []
  for (const t of llama.tensors) {
    tensors.push(t)
    const block = /^blk\.(\d+)\.attn_v\.weight$/.exec(t.name)
    if (block) {
      tensors.push(ones(`blk.${block[1]}.attn_q_norm.weight`, headDim))
      tensors.push(ones(`blk.${block[1]}.attn_k_norm.weight`, headDim))
    }
  }
  tensors.push({
    name: 'cls.output.weight',
    type: 'F32',
    dims: [n, RERANK_LABELS.length],
    data: () => {
      const rng = mulberry32(hashSeed(spec.seed, 'cls.output.weight'))
      const scale = Math.sqrt(3 / n)
      return Float32Array.from({ length: n * RERANK_LABELS.length }, () => (rng() * 2 - 1) * scale)
    },
  })
  return { metadata, tensors }
}
