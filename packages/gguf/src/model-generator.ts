import { FILE_TYPE_ALL_F32, FILE_TYPE_MOSTLY_F16 } from './ggml-types.js'
import type { GgufDigest, GgufFileInput, GgufMetadataEntry, GgufTensorInput } from './gguf-writer.js'
import { encodeGguf, writeGguf } from './gguf-writer.js'
import { buildLlamaVocab, type LlamaVocab } from './llama-vocab.js'
import { hashSeed, mulberry32 } from './prng.js'

/** What {@link generateLlamaModel} builds: a llama-architecture model with random (seeded) weights. */
export interface LlamaModelSpec {
  /** `general.name` and the file name stem; letters, digits, `.`, `_`, `-`. */
  name: string
  /** PRNG seed; the same spec always gives the same bytes. */
  seed: number
  /** `llama.context_length`. */
  contextLength: number
  /** `llama.embedding_length` (n_embd); at least 2, a multiple of `headCount`. */
  embeddingLength: number
  /** `llama.block_count` (n_layer). */
  blockCount: number
  /** `llama.feed_forward_length`. */
  feedForwardLength: number
  /** `llama.attention.head_count`; n_embd / head_count must be even (RoPE). */
  headCount: number
  /** `llama.attention.head_count_kv`; divides `headCount`. */
  headCountKv: number
  /** Type of the weight matrices; norm vectors are always F32, as llama.cpp's converters write them. */
  weightType: 'F32' | 'F16'
  /**
   * `llama.attention.layer_norm_rms_epsilon`.
   * @default 1e-5
   */
  rmsEpsilon?: number
}

/**
 * The generated models' `tokenizer.chat_template`: ChatML (`<|im_start|>role\ncontent<|im_end|>\n`…,
 * with `add_generation_prompt`) that also takes tools the way Hermes and Qwen 2.5 models do:
 * the tools as JSON in the system turn, calls as `<tool_call>\n{"name": …, "arguments": …}\n</tool_call>`
 * in the assistant's turn, results as `<tool_response>` in a user turn. node-llama-cpp reads
 * that syntax back out of the template for its function calling. A chat without tools renders
 * exactly as plain ChatML after the BOS token (which the vocabulary asks for).
 */
export const CHAT_TEMPLATE = [
  '{{- bos_token }}',
  '{%- if tools %}',
  "{{- '<|im_start|>system\\n' }}",
  "{%- if messages[0]['role'] == 'system' %}{{- messages[0]['content'] + '\\n\\n' }}{%- endif %}",
  "{{- '# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>' }}",
  "{%- for tool in tools %}{{- '\\n' }}{{- tool | tojson }}{%- endfor %}",
  '{{- \'\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{"name": <function-name>, "arguments": <args-json-object>}\\n</tool_call><|im_end|>\\n\' }}',
  '{%- endif %}',
  '{%- for message in messages %}',
  "{%- if message.role == 'system' and tools and loop.first %}",
  "{%- elif message.role == 'assistant' and message.tool_calls %}",
  "{{- '<|im_start|>assistant' }}{%- if message.content %}{{- '\\n' + message.content }}{%- endif %}",
  '{%- for tool_call in message.tool_calls %}',
  '{%- if tool_call.function is defined %}{%- set tool_call = tool_call.function %}{%- endif %}',
  '{{- \'\\n<tool_call>\\n{"name": "\' }}{{- tool_call.name }}{{- \'", "arguments": \' }}{{- tool_call.arguments | tojson }}{{- \'}\\n</tool_call>\' }}',
  '{%- endfor %}',
  "{{- '<|im_end|>\\n' }}",
  "{%- elif message.role == 'tool' %}",
  "{%- if loop.first or messages[loop.index0 - 1].role != 'tool' %}{{- '<|im_start|>user' }}{%- endif %}",
  "{{- '\\n<tool_response>\\n' + message.content + '\\n</tool_response>' }}",
  "{%- if loop.last or messages[loop.index0 + 1].role != 'tool' %}{{- '<|im_end|>\\n' }}{%- endif %}",
  '{%- else %}',
  "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}",
  '{%- endif %}',
  '{%- endfor %}',
  "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}",
].join('')

/** Value of the reserved residual dimension d0 in every token embedding. */
const D0_VALUE = 4
/** Weight of d0 in the output row of every unsampleable token: after the final RMSNorm d0 is ≥ ~1, so these logits sit ≥ ~200 below the rest. */
const D0_PENALTY = -200
/** Scale of what each layer adds to the residual stream, relative to a unit-variance update. */
const RESIDUAL_SCALE = 0.5
/** Target standard deviation of the sampleable tokens' logits: varied text at temperature 1. */
const LOGIT_STD = 2

function positiveInt(spec: LlamaModelSpec, field: keyof LlamaModelSpec, min = 1): number {
  const v = spec[field]
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    throw new RangeError(`model spec ${field} must be an integer >= ${min}, got ${String(v)}`)
  }
  return v
}

function checkSpec(spec: LlamaModelSpec): void {
  if (!/^[A-Za-z0-9._-]+$/.test(spec.name))
    throw new RangeError(`model spec name ${JSON.stringify(spec.name)} is not a safe file name`)
  if (!Number.isInteger(spec.seed)) throw new RangeError('model spec seed must be an integer')
  for (const field of [
    'contextLength',
    'blockCount',
    'feedForwardLength',
    'headCount',
    'headCountKv',
  ] as const) {
    positiveInt(spec, field)
  }
  const nEmbd = positiveInt(spec, 'embeddingLength', 2)
  if (nEmbd % spec.headCount !== 0 || (nEmbd / spec.headCount) % 2 !== 0) {
    throw new RangeError('model spec embeddingLength / headCount must be an even integer')
  }
  if (spec.headCount % spec.headCountKv !== 0)
    throw new RangeError('model spec headCountKv must divide headCount')
  if (spec.weightType !== 'F32' && spec.weightType !== 'F16')
    throw new RangeError('model spec weightType must be F32 or F16')
}

/** Value of element (`row`, `col`) given a uniform [-1, 1) source; called in row-major order. */
type Filler = (row: number, col: number, uniform: () => number) => number

/** A [cols, rows] tensor (GGUF dims, ne0 = cols contiguous) filled row by row from a per-tensor PRNG. */
function matrix(seed: number, name: string, cols: number, rows: number, fill: Filler): () => Float32Array {
  return () => {
    const rng = mulberry32(hashSeed(seed, name))
    const uniform = () => rng() * 2 - 1
    const data = new Float32Array(cols * rows)
    let i = 0
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) data[i++] = fill(r, c, uniform)
    }
    return data
  }
}

/** Uniform weights giving unit-variance outputs for unit-variance inputs of width `fanIn`, times `gain`. */
function dense(fanIn: number, gain = 1): Filler {
  const scale = gain * Math.sqrt(3 / fanIn)
  return (_r, _c, u) => u() * scale
}

/** Like {@link dense}, but output row 0 (d0 of the residual stream) stays 0 so no layer changes d0. */
function denseSparingD0(fanIn: number, gain: number): Filler {
  const scale = gain * Math.sqrt(3 / fanIn)
  return (r, _c, u) => (r === 0 ? 0 : u() * scale)
}

function metadata(spec: LlamaModelSpec, vocab: LlamaVocab): GgufMetadataEntry[] {
  const headDim = spec.embeddingLength / spec.headCount
  return [
    { key: 'general.architecture', type: 'string', value: 'llama' },
    { key: 'general.name', type: 'string', value: spec.name },
    {
      key: 'general.file_type',
      type: 'uint32',
      value: spec.weightType === 'F16' ? FILE_TYPE_MOSTLY_F16 : FILE_TYPE_ALL_F32,
    },
    { key: 'general.alignment', type: 'uint32', value: 32 },
    { key: 'llama.context_length', type: 'uint32', value: spec.contextLength },
    { key: 'llama.embedding_length', type: 'uint32', value: spec.embeddingLength },
    { key: 'llama.block_count', type: 'uint32', value: spec.blockCount },
    { key: 'llama.feed_forward_length', type: 'uint32', value: spec.feedForwardLength },
    { key: 'llama.attention.head_count', type: 'uint32', value: spec.headCount },
    { key: 'llama.attention.head_count_kv', type: 'uint32', value: spec.headCountKv },
    { key: 'llama.rope.dimension_count', type: 'uint32', value: headDim },
    { key: 'llama.attention.layer_norm_rms_epsilon', type: 'float32', value: spec.rmsEpsilon ?? 1e-5 },
    { key: 'llama.vocab_size', type: 'uint32', value: vocab.tokens.length },
    { key: 'tokenizer.ggml.model', type: 'string', value: 'llama' },
    { key: 'tokenizer.ggml.tokens', type: 'array', itemType: 'string', value: vocab.tokens },
    { key: 'tokenizer.ggml.scores', type: 'array', itemType: 'float32', value: vocab.scores },
    { key: 'tokenizer.ggml.token_type', type: 'array', itemType: 'int32', value: vocab.types },
    { key: 'tokenizer.ggml.bos_token_id', type: 'uint32', value: vocab.bosId },
    { key: 'tokenizer.ggml.eos_token_id', type: 'uint32', value: vocab.eosId },
    { key: 'tokenizer.ggml.unknown_token_id', type: 'uint32', value: vocab.unkId },
    { key: 'tokenizer.ggml.padding_token_id', type: 'uint32', value: vocab.padId },
    { key: 'tokenizer.ggml.add_bos_token', type: 'bool', value: true },
    { key: 'tokenizer.ggml.add_eos_token', type: 'bool', value: false },
    { key: 'tokenizer.chat_template', type: 'string', value: CHAT_TEMPLATE },
  ]
}

/**
 * Describes the model as GGUF input with lazily generated tensors, for streaming writes.
 *
 * The weights are random but shaped so that sampling, at any temperature up to 2 and without
 * top-k/top-p, only ever yields printable ASCII and never ends early: residual dimension d0 is
 * {@link D0_VALUE} in every embedding, no attention or FFN output writes to it, and the attention
 * and FFN norms ignore it. So after the final RMSNorm d0 stays strongly positive, and the output
 * rows of control, unknown and byte tokens weigh it {@link D0_PENALTY} (≥ ~200 logits below every
 * printable token) while printable tokens weigh it 0.
 *
 * @throws RangeError for an invalid spec.
 */
export function describeLlamaModel(spec: LlamaModelSpec): GgufFileInput {
  checkSpec(spec)
  const vocab = buildLlamaVocab()
  const nVocab = vocab.tokens.length
  const { embeddingLength: n, feedForwardLength: ff, seed, weightType } = spec
  const nKv = (n / spec.headCount) * spec.headCountKv
  const sqrt3 = Math.sqrt(3)
  const outScale = LOGIT_STD * Math.sqrt(3 / (n - 1))

  const tensor = (
    name: string,
    dims: [number] | [number, number],
    fill: Filler,
    type: 'F32' | 'F16' = weightType,
  ): GgufTensorInput => ({ name, type, dims, data: matrix(seed, name, dims[0], dims[1] ?? 1, fill) })
  const norm = (name: string, d0: number) => tensor(name, [n], (_r, c) => (c === 0 ? d0 : 1), 'F32')

  const tensors = [tensor('token_embd.weight', [n, nVocab], (_r, c, u) => (c === 0 ? D0_VALUE : u() * sqrt3))]
  for (let b = 0; b < spec.blockCount; b++) {
    const p = `blk.${b}.`
    tensors.push(
      norm(`${p}attn_norm.weight`, 0),
      tensor(`${p}attn_q.weight`, [n, n], dense(n)),
      tensor(`${p}attn_k.weight`, [n, nKv], dense(n)),
      tensor(`${p}attn_v.weight`, [n, nKv], dense(n)),
      tensor(`${p}attn_output.weight`, [n, n], denseSparingD0(n, RESIDUAL_SCALE)),
      norm(`${p}ffn_norm.weight`, 0),
      tensor(`${p}ffn_gate.weight`, [n, ff], dense(n)),
      tensor(`${p}ffn_up.weight`, [n, ff], dense(n)),
      tensor(`${p}ffn_down.weight`, [ff, n], denseSparingD0(ff, RESIDUAL_SCALE)),
    )
  }
  tensors.push(
    norm('output_norm.weight', 1),
    tensor('output.weight', [n, nVocab], (r, c, u) => {
      if (!vocab.sampleable[r]) return c === 0 ? D0_PENALTY : 0
      return c === 0 ? 0 : u() * outScale
    }),
  )
  return { metadata: metadata(spec, vocab), tensors }
}

/**
 * Generates a tiny llama-architecture GGUF model in memory. Deterministic: the same spec always
 * gives byte-identical output. See {@link describeLlamaModel} for why its output is always
 * printable ASCII.
 *
 * @throws RangeError for an invalid spec.
 */
export function generateLlamaModel(spec: LlamaModelSpec): Buffer {
  return encodeGguf(describeLlamaModel(spec))
}

/**
 * Streams the model of {@link generateLlamaModel} to `path` (not atomically) and returns its size and SHA-256.
 * @throws RangeError for an invalid spec, or the file system's error.
 */
export function writeLlamaModel(spec: LlamaModelSpec, path: string): Promise<GgufDigest> {
  return writeGguf(path, describeLlamaModel(spec))
}
