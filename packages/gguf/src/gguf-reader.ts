import { open } from 'node:fs/promises'
import { ChunkedReader } from './chunked-reader.js'
import { GGML_TYPES, type GgmlTypeName, ggmlByteSize, ggmlTypeName } from './ggml-types.js'
import {
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_SCALAR_SIZE,
  GGUF_VALUE_TYPE,
  type GgufScalarType,
  ggufScalarType,
} from './gguf-constants.js'
import { GgufFormatError } from './gguf-format-error.js'
import { summarizeHeader } from './header-summary.js'

/**
 * A metadata value as read. 64-bit integers are numbers when they fit in a double exactly,
 * bigints otherwise.
 */
export type GgufScalarValue = number | bigint | boolean | string
/** A metadata value: a scalar or an array of scalars (GGUF allows no nested arrays in practice; llama.cpp rejects them). */
export type GgufValue = GgufScalarValue | readonly GgufScalarValue[]

/** One tensor's description from the header. */
export interface GgufTensorInfo {
  name: string
  type: GgmlTypeName
  /** GGUF order: `ne0` (the contiguous dimension) first. */
  dims: readonly number[]
  elementCount: number
  /** Absolute byte offset of the tensor's data in the file (data section start + the stored relative offset). */
  offset: number
  byteSize: number
}

/** Everything in a GGUF file but the weights, plus the figures rbee schedules by. */
export interface GgufHeader {
  path: string
  /** GGUF version (2 or 3). */
  version: number
  fileSize: number
  /** Alignment of tensor data (`general.alignment`, default 32). */
  alignment: number
  /** Absolute offset where tensor data starts. */
  dataOffset: number
  /** `general.architecture`, e.g. `llama`. */
  architecture: string
  /** `general.name`, when present. */
  name?: string
  /** Sum of all tensors' element counts. */
  parameterCount: number
  /**
   * `general.file_type` by its usual name (`F16`, `Q4_K_M`, `Q8_0`…); without a known file type,
   * the ggml type holding most elements among matrices (`Q4_K`, `F16`…); `unknown` without tensors.
   */
  quantization: string
  /** `general.file_type`, when present. */
  fileType?: number
  /** `<arch>.context_length`: the context the model was trained for. */
  contextLength?: number
  /** `<arch>.embedding_length` (n_embd). */
  embeddingLength?: number
  /** `<arch>.block_count` (n_layer). */
  blockCount?: number
  /** `<arch>.feed_forward_length`; the largest value when given per layer. */
  feedForwardLength?: number
  /** `<arch>.attention.head_count`; the largest value when given per layer. */
  headCount?: number
  /** `<arch>.attention.head_count_kv`, defaulting to `headCount`; the largest value when given per layer. */
  headCountKv?: number
  /** `<arch>.attention.key_length` (per-head K width), when present. */
  keyLength?: number
  /** `<arch>.attention.value_length` (per-head V width), when present. */
  valueLength?: number
  /** `<arch>.vocab_size`, else the length of `tokenizer.ggml.tokens`. */
  vocabSize?: number
  /** All metadata in file order. */
  metadata: ReadonlyMap<string, GgufValue>
  tensors: readonly GgufTensorInfo[]
}

/** Options for {@link readGgufHeader}. */
export interface ReadGgufHeaderOptions {
  /**
   * Bytes read from the file at a time.
   * @default 1048576
   */
  chunkSize?: number
}

/** Longest string accepted (chat templates are kilobytes; this stops a corrupt length from allocating gigabytes). */
const MAX_STRING_BYTES = 16 * 1024 * 1024
/** Most elements in one metadata array (the largest vocabularies are ~260k tokens). */
const MAX_ARRAY_LENGTH = 16 * 1024 * 1024
const MAX_KEY_BYTES = 65_535
/** ggml's GGML_MAX_NAME - 1. */
const MAX_TENSOR_NAME_BYTES = 63
const MAX_DIMS = 4
/** Smallest encodings: key length + 1-byte key + type + 1-byte value; name length + 1-byte name + n_dims + one dim + type + offset. */
const MIN_KV_BYTES = 8 + 1 + 4 + 1
const MIN_TENSOR_INFO_BYTES = 8 + 1 + 4 + 8 + 4 + 8

type Fail = (problem: string) => never

function toSafeNumber(v: bigint, what: string, fail: Fail): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`${what} ${v} is absurdly large`)
  return Number(v)
}

function checkCount(r: ChunkedReader, count: number, minBytes: number, what: string, fail: Fail): void {
  if (count * minBytes > r.remaining()) {
    fail(
      `${what} ${count} cannot fit in the ${r.remaining()} bytes left after offset ${r.pos} (truncated or corrupt)`,
    )
  }
}

/** Length of the string at `pos` (its 8-byte prefix must be buffered), checked against `maxBytes` and the file. */
function peekStringLength(r: ChunkedReader, maxBytes: number, what: string, fail: Fail): number {
  const length = toSafeNumber(r.peekU64(), `${what} length`, fail)
  if (length > maxBytes) fail(`${what} length ${length} exceeds the ${maxBytes}-byte limit`)
  if (length > r.remaining() - 8)
    fail(`truncated: ${what} of ${length} bytes at offset ${r.pos} runs past the end`)
  return length
}

async function readString(r: ChunkedReader, maxBytes: number, what: string, fail: Fail): Promise<string> {
  if (!r.has(8)) await r.fill(8)
  const length = peekStringLength(r, maxBytes, what, fail)
  if (!r.has(8 + length)) await r.fill(8 + length)
  r.u64()
  return r.utf8(length)
}

/**
 * Decodes the next value when all its bytes are already buffered, else returns `undefined` and
 * consumes nothing. Keeps the common case (a whole vocabulary inside one chunk) synchronous.
 */
function readScalarNow(
  r: ChunkedReader,
  type: GgufScalarType,
  key: string,
  fail: Fail,
): GgufScalarValue | undefined {
  const size = GGUF_SCALAR_SIZE[type]
  if (!r.has(size)) return undefined
  switch (type) {
    case 'string': {
      const length = peekStringLength(r, MAX_STRING_BYTES, `string value of ${key}`, fail)
      if (!r.has(8 + length)) return undefined
      r.u64()
      return r.utf8(length)
    }
    case 'uint8':
      return r.u8()
    case 'int8':
      return r.i8()
    case 'uint16':
      return r.u16()
    case 'int16':
      return r.i16()
    case 'uint32':
      return r.u32()
    case 'int32':
      return r.i32()
    case 'float32':
      return r.f32()
    case 'float64':
      return r.f64()
    case 'bool':
      // llama.cpp reads any non-zero byte as true
      return r.u8() !== 0
    case 'uint64':
    case 'int64': {
      const v = type === 'uint64' ? r.u64() : r.i64()
      const n = Number(v)
      return Number.isSafeInteger(n) ? n : v
    }
  }
}

async function readScalar(
  r: ChunkedReader,
  type: GgufScalarType,
  key: string,
  fail: Fail,
): Promise<GgufScalarValue> {
  if (type === 'string') return readString(r, MAX_STRING_BYTES, `string value of ${key}`, fail)
  await r.fill(GGUF_SCALAR_SIZE[type])
  const value = readScalarNow(r, type, key, fail)
  if (value === undefined) return fail(`could not read ${key}`)
  return value
}

async function readValue(r: ChunkedReader, typeId: number, key: string, fail: Fail): Promise<GgufValue> {
  const scalar = ggufScalarType(typeId)
  if (scalar !== undefined) return readScalarNow(r, scalar, key, fail) ?? readScalar(r, scalar, key, fail)
  if (typeId !== GGUF_VALUE_TYPE.array) fail(`metadata ${key} has unknown value type ${typeId}`)
  if (!r.has(12)) await r.fill(12)
  const itemTypeId = r.u32()
  const itemType = ggufScalarType(itemTypeId)
  if (itemType === undefined) fail(`metadata ${key} is an array of unsupported type ${itemTypeId}`)
  const length = toSafeNumber(r.u64(), `array length of ${key}`, fail)
  if (length > MAX_ARRAY_LENGTH)
    fail(`array ${key} has ${length} elements, over the ${MAX_ARRAY_LENGTH} limit`)
  checkCount(r, length, GGUF_SCALAR_SIZE[itemType], `array ${key} length`, fail)
  const items: GgufScalarValue[] = []
  for (let i = 0; i < length; i++) {
    items.push(readScalarNow(r, itemType, key, fail) ?? (await readScalar(r, itemType, key, fail)))
  }
  return items
}

function readAlignment(metadata: ReadonlyMap<string, GgufValue>, fail: Fail): number {
  const v = metadata.get('general.alignment')
  if (v === undefined) return GGUF_DEFAULT_ALIGNMENT
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0 || v > 0xffffffff || (v & (v - 1)) !== 0) {
    fail(`general.alignment ${String(v)} is not a power of two`)
  }
  return v
}

interface RawTensorInfo {
  name: string
  type: GgmlTypeName
  dims: number[]
  elementCount: number
  relativeOffset: number
  byteSize: number
}

async function readTensorInfo(r: ChunkedReader, index: number, fail: Fail): Promise<RawTensorInfo> {
  const name = await readString(r, MAX_TENSOR_NAME_BYTES, `name of tensor ${index}`, fail)
  if (!r.has(4)) await r.fill(4)
  const nDims = r.u32()
  if (nDims < 1 || nDims > MAX_DIMS) fail(`tensor ${name} has ${nDims} dimensions (1 to ${MAX_DIMS} allowed)`)
  if (!r.has(8 * nDims + 12)) await r.fill(8 * nDims + 12)
  const dims: number[] = []
  let elementCount = 1
  for (let d = 0; d < nDims; d++) {
    const dim = toSafeNumber(r.u64(), `dimension ${d} of tensor ${name}`, fail)
    elementCount *= dim
    if (!Number.isSafeInteger(elementCount)) fail(`tensor ${name} has an absurd element count`)
    dims.push(dim)
  }
  const typeId = r.u32()
  const type = ggmlTypeName(typeId)
  if (type === undefined) fail(`tensor ${name} has unknown or retired ggml type ${typeId}`)
  const relativeOffset = toSafeNumber(r.u64(), `offset of tensor ${name}`, fail)
  const byteSize = ggmlByteSize(type, elementCount)
  if (byteSize === undefined || (dims[0] ?? 0) % GGML_TYPES[type].blockSize !== 0) {
    fail(
      `tensor ${name}: ne0 ${dims[0]} is not a multiple of ${type}'s block size ${GGML_TYPES[type].blockSize}`,
    )
  }
  return { name, type, dims, elementCount, relativeOffset, byteSize }
}

/**
 * Reads a GGUF file's header (metadata and tensor infos, not the weights) in chunks and summarizes it.
 * Memory use is bounded by the metadata itself, whatever the file size; every count and length is
 * checked against the bytes left in the file before anything is allocated for it.
 *
 * @throws GgufFormatError when the file is not GGUF (wrong magic), has an unsupported version, is
 *   truncated (header or tensor data), holds impossible counts, lengths, types or offsets, lacks
 *   `general.architecture`, or has architecture fields of the wrong type.
 * @throws the file system's error (e.g. ENOENT) when the file cannot be opened or read.
 */
export async function readGgufHeader(path: string, options: ReadGgufHeaderOptions = {}): Promise<GgufHeader> {
  const chunkSize = options.chunkSize ?? 1024 * 1024
  if (!Number.isInteger(chunkSize) || chunkSize < 16)
    throw new RangeError('chunkSize must be an integer >= 16')
  const fail: Fail = (problem) => {
    throw new GgufFormatError(path, problem)
  }
  const handle = await open(path, 'r')
  try {
    const { size } = await handle.stat()
    const r = new ChunkedReader(handle, size, chunkSize, fail)
    if (size < 4) fail(`not a GGUF file: only ${size} bytes`)
    await r.fill(4)
    const magic = r.u32()
    if (magic !== GGUF_MAGIC) {
      const text = JSON.stringify(
        Buffer.from([magic, magic >>> 8, magic >>> 16, magic >>> 24]).toString('latin1'),
      )
      fail(`not a GGUF file: starts with ${text} (0x${magic.toString(16).padStart(8, '0')}), expected "GGUF"`)
    }
    if (!r.has(20)) await r.fill(20)
    const version = r.u32()
    if (version === 0x02000000 || version === 0x03000000) fail('big-endian GGUF files are not supported')
    if (version !== 2 && version !== 3) fail(`unsupported GGUF version ${version} (2 and 3 are supported)`)
    const tensorCount = toSafeNumber(r.u64(), 'tensor count', fail)
    const kvCount = toSafeNumber(r.u64(), 'metadata count', fail)
    checkCount(r, tensorCount, MIN_TENSOR_INFO_BYTES, 'tensor count', fail)
    checkCount(r, kvCount, MIN_KV_BYTES, 'metadata count', fail)

    const metadata = new Map<string, GgufValue>()
    for (let i = 0; i < kvCount; i++) {
      const key = await readString(r, MAX_KEY_BYTES, `key of metadata entry ${i}`, fail)
      if (metadata.has(key)) fail(`metadata key ${key} appears twice`)
      if (!r.has(4)) await r.fill(4)
      metadata.set(key, await readValue(r, r.u32(), key, fail))
    }
    const alignment = readAlignment(metadata, fail)

    const raw: RawTensorInfo[] = []
    const names = new Set<string>()
    for (let i = 0; i < tensorCount; i++) {
      const info = await readTensorInfo(r, i, fail)
      if (names.has(info.name)) fail(`tensor ${info.name} appears twice`)
      names.add(info.name)
      raw.push(info)
    }

    const dataOffset = Math.ceil(r.pos / alignment) * alignment
    const tensors = raw.map(({ relativeOffset, ...t }): GgufTensorInfo => {
      if (relativeOffset % alignment !== 0)
        fail(`tensor ${t.name} offset ${relativeOffset} is not ${alignment}-aligned`)
      const offset = dataOffset + relativeOffset
      if (offset + t.byteSize > size) {
        fail(
          `truncated: tensor ${t.name} data ends at byte ${offset + t.byteSize} but the file has ${size} bytes`,
        )
      }
      return { ...t, offset }
    })
    return summarizeHeader({ path, version, fileSize: size, alignment, dataOffset, metadata, tensors }, fail)
  } finally {
    await handle.close()
  }
}
