import { createHash } from 'node:crypto'
import { open } from 'node:fs/promises'
import { endianness } from 'node:os'
import { float32ToFloat16Bits } from './float16.js'
import { GGML_TYPES, type GgmlTypeName, ggmlByteSize } from './ggml-types.js'
import {
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_VALUE_TYPE,
  GGUF_VERSION,
  type GgufScalarType,
  type GgufScalarValueMap,
} from './gguf-constants.js'

/** One metadata key/value to write: a scalar, or an array of one scalar type. */
export type GgufMetadataEntry =
  | { [T in GgufScalarType]: { key: string; type: T; value: GgufScalarValueMap[T] } }[GgufScalarType]
  | {
      [T in GgufScalarType]: {
        key: string
        type: 'array'
        itemType: T
        value: readonly GgufScalarValueMap[T][]
      }
    }[GgufScalarType]

/**
 * Tensor contents: a `Float32Array` (F32 and F16 tensors; converted to F16 with round-to-nearest-even)
 * or the raw little-endian bytes of any type, exactly as long as the tensor.
 */
export type GgufTensorData = Float32Array | Uint8Array

/** One tensor to write. */
export interface GgufTensorInput {
  /** Tensor name, at most 63 UTF-8 bytes (ggml's limit). */
  name: string
  type: GgmlTypeName
  /** GGUF order: `ne0` (the contiguous dimension) first, at most 4 dimensions. */
  dims: readonly number[]
  /** The contents, or a function called once while writing, so a large file need not be held in memory. */
  data: GgufTensorData | (() => GgufTensorData)
}

/** What to write. */
export interface GgufFileInput {
  /**
   * Metadata in file order. `general.alignment` (uint32, a power of two) is appended with the default
   * of 32 when absent.
   */
  metadata: readonly GgufMetadataEntry[]
  /** Tensors in file order; their data is laid out in this order, each padded to the alignment. */
  tensors: readonly GgufTensorInput[]
}

/** Size and SHA-256 (hex) of encoded GGUF bytes. */
export interface GgufDigest {
  size: number
  sha256: string
}

const MAX_TENSOR_NAME_BYTES = 63
const LITTLE_ENDIAN = endianness() === 'LE'
const MAX_DIMS = 4

class ByteWriter {
  private buf = Buffer.alloc(4096)
  length = 0

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n))
    this.buf.copy(next, 0, 0, this.length)
    this.buf = next
  }

  u8(v: number): void {
    this.reserve(1)
    this.buf.writeUInt8(v, this.length)
    this.length += 1
  }
  i8(v: number): void {
    this.reserve(1)
    this.buf.writeInt8(v, this.length)
    this.length += 1
  }
  u16(v: number): void {
    this.reserve(2)
    this.buf.writeUInt16LE(v, this.length)
    this.length += 2
  }
  i16(v: number): void {
    this.reserve(2)
    this.buf.writeInt16LE(v, this.length)
    this.length += 2
  }
  u32(v: number): void {
    this.reserve(4)
    this.buf.writeUInt32LE(v, this.length)
    this.length += 4
  }
  i32(v: number): void {
    this.reserve(4)
    this.buf.writeInt32LE(v, this.length)
    this.length += 4
  }
  f32(v: number): void {
    this.reserve(4)
    this.buf.writeFloatLE(v, this.length)
    this.length += 4
  }
  f64(v: number): void {
    this.reserve(8)
    this.buf.writeDoubleLE(v, this.length)
    this.length += 8
  }
  u64(v: bigint | number): void {
    this.reserve(8)
    this.buf.writeBigUInt64LE(BigInt(v), this.length)
    this.length += 8
  }
  i64(v: bigint): void {
    this.reserve(8)
    this.buf.writeBigInt64LE(v, this.length)
    this.length += 8
  }
  string(s: string): void {
    const bytes = Buffer.from(s, 'utf8')
    this.u64(bytes.length)
    this.reserve(bytes.length)
    bytes.copy(this.buf, this.length)
    this.length += bytes.length
  }
  padTo(alignment: number): void {
    const pad = paddingFor(this.length, alignment)
    this.reserve(pad)
    this.buf.fill(0, this.length, this.length + pad)
    this.length += pad
  }
  result(): Buffer {
    return this.buf.subarray(0, this.length)
  }
}

function paddingFor(offset: number, alignment: number): number {
  return (alignment - (offset % alignment)) % alignment
}

const INT_RANGES: Partial<Record<GgufScalarType, readonly [number, number]>> = {
  uint8: [0, 0xff],
  int8: [-0x80, 0x7f],
  uint16: [0, 0xffff],
  int16: [-0x8000, 0x7fff],
  uint32: [0, 0xffffffff],
  int32: [-0x80000000, 0x7fffffff],
}

function badValue(key: string, type: string, value: unknown): TypeError {
  return new TypeError(`GGUF metadata ${key}: ${String(value)} is not a valid ${type}`)
}

function writeInt(w: ByteWriter, type: GgufScalarType, value: number): void {
  if (type === 'uint8') w.u8(value)
  else if (type === 'int8') w.i8(value)
  else if (type === 'uint16') w.u16(value)
  else if (type === 'int16') w.i16(value)
  else if (type === 'uint32') w.u32(value)
  else w.i32(value)
}

function writeScalar(w: ByteWriter, type: GgufScalarType, value: unknown, key: string): void {
  const range = INT_RANGES[type]
  if (range !== undefined) {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < range[0] || value > range[1]) {
      throw badValue(key, type, value)
    }
    writeInt(w, type, value)
  } else if (type === 'float32' && typeof value === 'number') {
    w.f32(value)
  } else if (type === 'float64' && typeof value === 'number') {
    w.f64(value)
  } else if (type === 'uint64' && typeof value === 'bigint' && value >= 0n && value < 1n << 64n) {
    w.u64(value)
  } else if (type === 'int64' && typeof value === 'bigint' && value >= -(1n << 63n) && value < 1n << 63n) {
    w.i64(value)
  } else if (type === 'bool' && typeof value === 'boolean') {
    w.u8(value ? 1 : 0)
  } else if (type === 'string' && typeof value === 'string') {
    w.string(value)
  } else {
    throw badValue(key, type, value)
  }
}

function resolveAlignment(metadata: readonly GgufMetadataEntry[]): {
  alignment: number
  entries: readonly GgufMetadataEntry[]
} {
  const entry = metadata.find((e) => e.key === 'general.alignment')
  if (entry === undefined) {
    return {
      alignment: GGUF_DEFAULT_ALIGNMENT,
      entries: [...metadata, { key: 'general.alignment', type: 'uint32', value: GGUF_DEFAULT_ALIGNMENT }],
    }
  }
  const v = entry.value
  if (entry.type !== 'uint32' || typeof v !== 'number' || v === 0 || (v & (v - 1)) !== 0) {
    throw new TypeError('GGUF metadata general.alignment must be a uint32 power of two')
  }
  return { alignment: v, entries: metadata }
}

interface TensorLayout {
  input: GgufTensorInput
  elementCount: number
  byteSize: number
  offset: number
}

function layoutTensors(tensors: readonly GgufTensorInput[], alignment: number): TensorLayout[] {
  const names = new Set<string>()
  let offset = 0
  return tensors.map((input) => {
    const { name, type, dims } = input
    if (name.length === 0 || Buffer.byteLength(name, 'utf8') > MAX_TENSOR_NAME_BYTES) {
      throw new RangeError(`GGUF tensor name "${name}" must be 1 to ${MAX_TENSOR_NAME_BYTES} bytes`)
    }
    if (names.has(name)) throw new RangeError(`GGUF tensor ${name} is listed twice`)
    names.add(name)
    if (!(type in GGML_TYPES)) throw new RangeError(`GGUF tensor ${name}: unknown type ${String(type)}`)
    if (dims.length < 1 || dims.length > MAX_DIMS || !dims.every((d) => Number.isSafeInteger(d) && d > 0)) {
      throw new RangeError(`GGUF tensor ${name}: dims must be 1 to ${MAX_DIMS} positive integers`)
    }
    const elementCount = dims.reduce((a, b) => a * b, 1)
    const byteSize = ggmlByteSize(type, elementCount)
    if (byteSize === undefined || (dims[0] ?? 0) % GGML_TYPES[type].blockSize !== 0) {
      throw new RangeError(`GGUF tensor ${name}: ne0 must be a multiple of ${type}'s block size`)
    }
    const layout = { input, elementCount, byteSize, offset }
    offset += byteSize + paddingFor(byteSize, alignment)
    return layout
  })
}

function encodeHeader(
  entries: readonly GgufMetadataEntry[],
  layouts: readonly TensorLayout[],
  alignment: number,
) {
  const keys = new Set<string>()
  const w = new ByteWriter()
  w.u32(GGUF_MAGIC)
  w.u32(GGUF_VERSION)
  w.u64(layouts.length)
  w.u64(entries.length)
  for (const entry of entries) {
    if (keys.has(entry.key)) throw new RangeError(`GGUF metadata ${entry.key} is listed twice`)
    keys.add(entry.key)
    w.string(entry.key)
    w.u32(GGUF_VALUE_TYPE[entry.type])
    if (entry.type === 'array') {
      w.u32(GGUF_VALUE_TYPE[entry.itemType])
      w.u64(entry.value.length)
      for (const item of entry.value) writeScalar(w, entry.itemType, item, entry.key)
    } else {
      writeScalar(w, entry.type, entry.value, entry.key)
    }
  }
  for (const t of layouts) {
    w.string(t.input.name)
    w.u32(t.input.dims.length)
    for (const d of t.input.dims) w.u64(d)
    w.u32(GGML_TYPES[t.input.type].id)
    w.u64(t.offset)
  }
  w.padTo(alignment)
  return w.result()
}

function tensorBytes(t: TensorLayout): Uint8Array {
  const { name, type } = t.input
  const data = typeof t.input.data === 'function' ? t.input.data() : t.input.data
  if (data instanceof Float32Array) {
    if (data.length !== t.elementCount) {
      throw new RangeError(`GGUF tensor ${name}: ${data.length} values for ${t.elementCount} elements`)
    }
    if (type === 'F32') {
      if (LITTLE_ENDIAN) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      const out = Buffer.alloc(t.byteSize)
      for (let i = 0; i < data.length; i++) out.writeFloatLE(data[i] ?? 0, i * 4)
      return out
    }
    if (type === 'F16') {
      const half = new Uint16Array(data.length)
      for (let i = 0; i < data.length; i++) half[i] = float32ToFloat16Bits(data[i] ?? 0)
      if (!LITTLE_ENDIAN)
        for (let i = 0; i < half.length; i++)
          half[i] = (((half[i] ?? 0) & 0xff) << 8) | ((half[i] ?? 0) >>> 8)
      return new Uint8Array(half.buffer)
    }
    throw new TypeError(`GGUF tensor ${name}: Float32Array data only converts to F32 or F16, not ${type}`)
  }
  if (data.length !== t.byteSize) {
    throw new RangeError(
      `GGUF tensor ${name}: ${data.length} bytes of data for a ${t.byteSize}-byte ${type} tensor`,
    )
  }
  return data
}

/**
 * Encodes a GGUF v3 file as a sequence of chunks: the header (metadata, tensor infos, padding), then
 * each tensor's data padded to the alignment. Tensor data functions are called lazily, one per chunk.
 *
 * @throws TypeError or RangeError for an invalid metadata value, duplicate key or tensor name,
 *   bad dims, or data whose length does not match the tensor.
 */
export function* ggufChunks(file: GgufFileInput): Generator<Uint8Array, void, undefined> {
  const { alignment, entries } = resolveAlignment(file.metadata)
  const layouts = layoutTensors(file.tensors, alignment)
  yield encodeHeader(entries, layouts, alignment)
  for (const t of layouts) {
    yield tensorBytes(t)
    const pad = paddingFor(t.byteSize, alignment)
    if (pad > 0) yield new Uint8Array(pad)
  }
}

/** Encodes a whole GGUF v3 file into one buffer. Throws as {@link ggufChunks}. */
export function encodeGguf(file: GgufFileInput): Buffer {
  return Buffer.concat([...ggufChunks(file)])
}

/** Size and SHA-256 of the file {@link encodeGguf} would produce, without holding it in memory. */
export function ggufDigest(file: GgufFileInput): GgufDigest {
  const hash = createHash('sha256')
  let size = 0
  for (const chunk of ggufChunks(file)) {
    hash.update(chunk)
    size += chunk.length
  }
  return { size, sha256: hash.digest('hex') }
}

/**
 * Writes a GGUF v3 file to `path` (created or truncated) chunk by chunk, and returns its size and
 * SHA-256. Not atomic: write to a temporary name and rename when readers may be looking.
 *
 * @throws as {@link ggufChunks}, or the file system's error.
 */
export async function writeGguf(path: string, file: GgufFileInput): Promise<GgufDigest> {
  const hash = createHash('sha256')
  let size = 0
  const handle = await open(path, 'w')
  try {
    for (const chunk of ggufChunks(file)) {
      hash.update(chunk)
      size += chunk.length
      let written = 0
      while (written < chunk.length) {
        const { bytesWritten } = await handle.write(chunk, written, chunk.length - written)
        written += bytesWritten
      }
    }
  } finally {
    await handle.close()
  }
  return { size, sha256: hash.digest('hex') }
}
