import { fileTypeName } from './ggml-types.js'
import type { GgufHeader, GgufTensorInfo } from './gguf-reader.js'
import { arrayLength, type GgufValue } from './metadata-reader.js'
import { SPLIT_KEYS } from './split-model.js'

type HeaderBase = Pick<
  GgufHeader,
  'path' | 'version' | 'fileSize' | 'alignment' | 'dataOffset' | 'metadata' | 'tensors'
>

function dominantTensorType(tensors: readonly GgufTensorInfo[]): string {
  // norms and biases are 1-D and kept in F32 by every quantizer; the matrices tell the quantization
  const matrices = tensors.filter((t) => t.dims.length >= 2)
  const counts = new Map<string, number>()
  for (const t of matrices.length > 0 ? matrices : tensors) {
    counts.set(t.type, (counts.get(t.type) ?? 0) + t.elementCount)
  }
  let best = 'unknown'
  let bestCount = -1
  for (const [type, count] of counts) {
    if (count > bestCount) {
      best = type
      bestCount = count
    }
  }
  return best
}

/** The `split.*` keys of a split model's part, checked; undefined for a whole model. */
function splitOf(
  intField: (key: string) => number | undefined,
  fail: (problem: string) => never,
): { no: number; count: number; tensorsCount: number } | undefined {
  const count = intField(SPLIT_KEYS.count)
  if (count === undefined) return undefined
  const no = intField(SPLIT_KEYS.no) ?? 0
  const tensorsCount = intField(SPLIT_KEYS.tensorsCount) ?? 0
  if (count < 1 || no >= count) {
    return fail(`${SPLIT_KEYS.no} ${no} is not a part of ${SPLIT_KEYS.count} ${count}`)
  }
  return { no, count, tensorsCount }
}

/**
 * Derives the architecture figures and quantization of a parsed header.
 * @param fail - throws the caller's GgufFormatError
 */
export function summarizeHeader(base: HeaderBase, fail: (problem: string) => never): GgufHeader {
  const { metadata, tensors } = base

  const intField = (key: string): number | undefined => {
    const v: GgufValue | undefined = metadata.get(key)
    if (v === undefined) return undefined
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v
    // some architectures give per-layer values; the largest is what sizing needs
    if (
      Array.isArray(v) &&
      v.length > 0 &&
      v.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)
    ) {
      return Math.max(...v.map(Number))
    }
    // The value is not quoted: it is the file's content.
    return fail(`metadata ${key} must be a non-negative integer or a list of them, one per layer`)
  }
  const stringField = (key: string): string | undefined => {
    const v = metadata.get(key)
    if (v === undefined || typeof v === 'string') return v
    return fail(`metadata ${key} must be a string`)
  }

  const split = splitOf(intField, fail)
  const architecture = stringField('general.architecture') ?? (split && split.no > 0 ? '' : undefined)
  if (architecture === undefined || (architecture.length === 0 && !split)) {
    return fail('general.architecture is missing')
  }
  const fileType = intField('general.file_type')
  const tokens = metadata.get('tokenizer.ggml.tokens')
  const headCount = intField(`${architecture}.attention.head_count`)
  const namedType = fileType === undefined ? undefined : fileTypeName(fileType)

  return {
    ...base,
    architecture,
    name: stringField('general.name'),
    parameterCount: tensors.reduce((sum, t) => sum + t.elementCount, 0),
    quantization: namedType ?? dominantTensorType(tensors),
    fileType,
    contextLength: intField(`${architecture}.context_length`),
    embeddingLength: intField(`${architecture}.embedding_length`),
    blockCount: intField(`${architecture}.block_count`),
    feedForwardLength: intField(`${architecture}.feed_forward_length`),
    headCount,
    headCountKv: intField(`${architecture}.attention.head_count_kv`) ?? headCount,
    keyLength: intField(`${architecture}.attention.key_length`),
    valueLength: intField(`${architecture}.attention.value_length`),
    vocabSize: intField(`${architecture}.vocab_size`) ?? arrayLength(tokens),
    ...(split ? { split } : {}),
  }
}
