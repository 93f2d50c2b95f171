import { GgufFormatError } from './gguf-format-error.js'
import type { GgufHeader } from './gguf-reader.js'

/** Options for {@link estimateWorkerMemoryMb}. */
export interface WorkerMemoryOptions {
  /** Context size (tokens) of each slot. */
  ctxSize: number
  /** Sequences the worker serves in parallel, each with its own `ctxSize` of KV cache. */
  slots: number
  /**
   * Micro-batch size llama.cpp evaluates at once; it sizes the compute buffer.
   * @default 512
   */
  ubatch?: number
}

const MIB = 1024 * 1024
const F16_BYTES = 2
const F32_BYTES = 4
/**
 * Node.js, node-llama-cpp, llama.cpp's native libraries and the worker's HTTP server before a model
 * loads: measured ~85 MiB RSS for Node 20 with node-llama-cpp 3.21.1 imported and `getLlama()` done.
 */
export const WORKER_RUNTIME_OVERHEAD_MB = 100

/** The header figures a memory estimate reads. */
export type MemoryEstimateInput = Pick<
  GgufHeader,
  | 'path'
  | 'architecture'
  | 'fileSize'
  | 'blockCount'
  | 'embeddingLength'
  | 'headCount'
  | 'headCountKv'
  | 'keyLength'
  | 'valueLength'
  | 'feedForwardLength'
  | 'vocabSize'
>

function required(header: MemoryEstimateInput, value: number | undefined, field: string): number {
  if (value === undefined || value === 0) {
    throw new GgufFormatError(
      header.path,
      `${header.architecture}.${field} is missing; cannot estimate memory`,
    )
  }
  return value
}

function positiveInt(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1)
    throw new RangeError(`${name} must be a positive integer, got ${value}`)
  return value
}

/**
 * Estimates the resident memory (MiB, rounded up) of a CPU worker serving this model:
 *
 * ```text
 * weights = fileSize                                        (mmapped, all pages touched)
 * tokens  = ctxSize * slots
 * kv      = n_layer * tokens * (n_embd_k_gqa + n_embd_v_gqa) * 2 bytes (F16 K and V cache)
 *           n_embd_k_gqa = key_length (default n_embd / n_head) * n_head_kv, likewise V;
 *           with equal K and V widths this is 2 * n_layer * tokens * n_embd_k_gqa * 2
 * ub      = min(ubatch, tokens)
 * compute = 4 bytes * ub * (n_vocab + 4 * n_embd + 3 * n_ff + n_head * tokens)
 *           logits, hidden activations, FFN activations and the F32 attention scores
 *           (n_head x n_kv x ub, the largest buffer when flash attention is off)
 * total   = weights + kv + compute + WORKER_RUNTIME_OVERHEAD_MB (100 MiB)
 * ```
 *
 * It errs high: flash attention or a quantized KV cache would need less.
 *
 * @throws RangeError when `ctxSize`, `slots` or `ubatch` is not a positive integer.
 * @throws GgufFormatError when the header lacks `block_count`, `embedding_length` or `attention.head_count`.
 */
export function estimateWorkerMemoryMb(header: MemoryEstimateInput, options: WorkerMemoryOptions): number {
  const ctxSize = positiveInt(options.ctxSize, 'ctxSize')
  const slots = positiveInt(options.slots, 'slots')
  const ubatch = positiveInt(options.ubatch ?? 512, 'ubatch')
  const nLayer = required(header, header.blockCount, 'block_count')
  const nEmbd = required(header, header.embeddingLength, 'embedding_length')
  const nHead = required(header, header.headCount, 'attention.head_count')
  const nHeadKv = header.headCountKv ?? nHead
  const headDim = nEmbd / nHead
  const nEmbdKGqa = (header.keyLength ?? headDim) * nHeadKv
  const nEmbdVGqa = (header.valueLength ?? headDim) * nHeadKv
  const nFf = header.feedForwardLength ?? 4 * nEmbd
  const nVocab = header.vocabSize ?? 0

  const tokens = ctxSize * slots
  const kvBytes = nLayer * tokens * (nEmbdKGqa + nEmbdVGqa) * F16_BYTES
  const ub = Math.min(ubatch, tokens)
  const computeBytes = F32_BYTES * ub * (nVocab + 4 * nEmbd + 3 * nFf + nHead * tokens)
  return Math.ceil((header.fileSize + kvBytes + computeBytes) / MIB) + WORKER_RUNTIME_OVERHEAD_MB
}
