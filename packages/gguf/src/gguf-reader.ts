import { constants, fstat, read } from 'node:fs'
import { type FileHandle, open } from 'node:fs/promises'
import { promisify } from 'node:util'
import { ChunkedReader, type ReadSource } from './chunked-reader.js'
import { GGML_TYPES, type GgmlTypeName, ggmlByteSize, ggmlTypeName } from './ggml-types.js'
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC } from './gguf-constants.js'
import { GgufFormatError } from './gguf-format-error.js'
import { type GgufLimits, resolveGgufLimits } from './gguf-limits.js'
import { type Fail, HELD_BYTES, HeaderParse } from './header-parse.js'
import { summarizeHeader } from './header-summary.js'
import { type GgufValue, readMetadata } from './metadata-reader.js'

export type { GgufArraySummary, GgufScalarValue, GgufValue } from './metadata-reader.js'

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
  /**
   * For one part of a split model (llama.cpp's `split.*` keys): its 0-based index, the part
   * count and the tensors of all parts. Parts after the first carry no other metadata: their
   * `architecture` is `''`.
   */
  split?: { no: number; count: number; tensorsCount: number }
  /**
   * All metadata in file order; arrays longer than `GgufLimits.maxInlineArrayLength` that were
   * not asked for by key (`fullArrays`) as their type and length only.
   */
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
  /** Tighter or looser limits than `GGUF_LIMITS` (tests prove them with small files). */
  limits?: Partial<GgufLimits>
  /**
   * Metadata arrays to read whole whatever their length (for example `tokenizer.ggml.tokens`);
   * other arrays longer than `limits.maxInlineArrayLength` are kept as a `GgufArraySummary`.
   */
  fullArrays?: readonly string[]
  /**
   * An open descriptor of the file to read instead of opening `path` (which then only names the
   * file in errors). The caller owns it and closes it.
   */
  fd?: number
}

/** ggml's GGML_MAX_NAME - 1. */
const MAX_TENSOR_NAME_BYTES = 63
const MAX_DIMS = 4
/** Smallest encodings: key length + 1-byte key + type + 1-byte value; name length + 1-byte name + n_dims + one dim + type + offset. */
const MIN_KV_BYTES = 8 + 1 + 4 + 1
const MIN_TENSOR_INFO_BYTES = 8 + 1 + 4 + 8 + 4 + 8

function readAlignment(metadata: ReadonlyMap<string, GgufValue>, fail: Fail): number {
  const v = metadata.get('general.alignment')
  if (v === undefined) return GGUF_DEFAULT_ALIGNMENT
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0 || v > 0xffffffff || (v & (v - 1)) !== 0) {
    fail('general.alignment must be a power of two')
  }
  return v
}

/** A tensor description whose `offset` is still relative to the data section. */
type RawTensorInfo = GgufTensorInfo

async function readTensorInfo(p: HeaderParse, index: number): Promise<RawTensorInfo> {
  const { r } = p
  const fail: Fail = p.fail
  const name = await p.string(MAX_TENSOR_NAME_BYTES, `name of tensor ${index}`)
  if (!r.has(4)) await r.fill(4)
  const nDims = r.u32()
  if (nDims < 1 || nDims > MAX_DIMS) fail(`tensor ${name} has ${nDims} dimensions (1 to ${MAX_DIMS} allowed)`)
  if (!r.has(8 * nDims + 12)) await r.fill(8 * nDims + 12)
  const dims: number[] = []
  let elementCount = 1
  for (let d = 0; d < nDims; d++) {
    const dim = p.safe(r.u64(), `dimension ${d} of tensor ${name}`)
    elementCount *= dim
    if (!Number.isSafeInteger(elementCount)) fail(`tensor ${name} has an absurd element count`)
    dims.push(dim)
  }
  const typeId = r.u32()
  const type = ggmlTypeName(typeId)
  if (type === undefined) fail(`tensor ${name} has unknown or retired ggml type ${typeId}`)
  const offset = p.safe(r.u64(), `offset of tensor ${name}`)
  const byteSize = ggmlByteSize(type, elementCount)
  if (byteSize === undefined || (dims[0] ?? 0) % GGML_TYPES[type].blockSize !== 0) {
    fail(
      `tensor ${name}: ne0 ${dims[0]} is not a multiple of ${type}'s block size ${GGML_TYPES[type].blockSize}`,
    )
  }
  return { name, type, dims, elementCount, offset, byteSize }
}

const readFd = promisify(read)
const fstatFd = promisify(fstat)

/** An open descriptor as a {@link ReadSource}. */
function fdSource(fd: number): ReadSource {
  return { read: (buffer, offset, length, position) => readFd(fd, buffer, offset, length, position) }
}

async function parse(
  source: ReadSource,
  size: number,
  path: string,
  options: ReadGgufHeaderOptions & { limits: GgufLimits; chunkSize: number },
): Promise<GgufHeader> {
  const fail: Fail = (problem) => {
    throw new GgufFormatError(path, problem)
  }
  const p = new HeaderParse(new ChunkedReader(source, size, options.chunkSize, fail), options.limits, fail)
  const { r, limits } = p
  // The bytes are never quoted: an import may name any file, and its content is nobody's business.
  if (size < 4) fail(`not a GGUF file: only ${size} bytes`)
  await r.fill(4)
  if (r.u32() !== GGUF_MAGIC) fail('not a GGUF file: it does not start with the GGUF magic')
  if (!r.has(20)) await r.fill(20)
  const version = r.u32()
  if (version === 0x02000000 || version === 0x03000000) fail('big-endian GGUF files are not supported')
  if (version !== 2 && version !== 3) fail(`unsupported GGUF version ${version} (2 and 3 are supported)`)
  const tensorCount = p.safe(r.u64(), 'tensor count')
  const kvCount = p.safe(r.u64(), 'metadata count')
  p.fits(tensorCount, MIN_TENSOR_INFO_BYTES, 'tensor count')
  p.fits(kvCount, MIN_KV_BYTES, 'metadata count')
  if (tensorCount > limits.maxTensorCount) {
    fail(`tensor count ${tensorCount} is over the ${limits.maxTensorCount} limit`)
  }

  const metadata = await readMetadata(p, { count: kvCount, fullArrays: new Set(options.fullArrays) })
  const alignment = readAlignment(metadata, fail)

  p.hold(tensorCount * HELD_BYTES.tensor, `${tensorCount} tensor descriptions`)
  const tensors: RawTensorInfo[] = []
  const names = new Set<string>()
  for (let i = 0; i < tensorCount; i++) {
    const info = await readTensorInfo(p, i)
    if (names.has(info.name)) fail(`tensor ${info.name} appears twice`)
    names.add(info.name)
    tensors.push(info)
  }

  const dataOffset = Math.ceil(r.pos / alignment) * alignment
  for (const t of tensors) {
    if (t.offset % alignment !== 0) fail(`tensor ${t.name} offset ${t.offset} is not ${alignment}-aligned`)
    t.offset += dataOffset
    if (t.offset + t.byteSize > size) {
      fail(
        `truncated: tensor ${t.name} data ends at byte ${t.offset + t.byteSize} but the file has ${size} bytes`,
      )
    }
  }
  return summarizeHeader({ path, version, fileSize: size, alignment, dataOffset, metadata, tensors }, fail)
}

/**
 * Parses a GGUF header from any positioned reader (a remote file read with HTTP ranges, for
 * one) of `size` bytes, within the same limits as {@link readGgufHeader}; `name` names it in
 * errors. The reader is asked for chunks of `chunkSize` bytes in file order.
 * @throws GgufFormatError as {@link readGgufHeader}; whatever `source.read` throws.
 */
export async function readGgufHeaderFrom(
  source: ReadSource,
  size: number,
  name: string,
  options: Omit<ReadGgufHeaderOptions, 'fd'> = {},
): Promise<GgufHeader> {
  const chunkSize = options.chunkSize ?? 1024 * 1024
  if (!Number.isInteger(chunkSize) || chunkSize < 16)
    throw new RangeError('chunkSize must be an integer >= 16')
  return parse(source, size, name, { ...options, chunkSize, limits: resolveGgufLimits(options.limits) })
}

/**
 * Reads a GGUF file's header (metadata and tensor infos, not the weights) in chunks and summarizes
 * it, within `GGUF_LIMITS` (or `options.limits`): every count and length is checked against
 * the limits and the bytes left in the file before anything is allocated for it, and metadata
 * arrays longer than `maxInlineArrayLength` are skipped, kept as their type and length. The file
 * is opened non-blocking and must be a regular file, so a FIFO or a device fails at once instead
 * of blocking a thread.
 *
 * Error messages never quote the file's bytes.
 *
 * @throws GgufFormatError when the file is not a regular file or not GGUF (wrong magic), has an
 *   unsupported version, is truncated (header or tensor data), holds impossible counts, lengths,
 *   types or offsets, goes past a limit, lacks `general.architecture`, or has architecture fields
 *   of the wrong type.
 * @throws the file system's error (e.g. ENOENT) when the file cannot be opened or read.
 * @throws RangeError for a `chunkSize` below 16 or a limit that is not a positive integer.
 */
export async function readGgufHeader(path: string, options: ReadGgufHeaderOptions = {}): Promise<GgufHeader> {
  const chunkSize = options.chunkSize ?? 1024 * 1024
  if (!Number.isInteger(chunkSize) || chunkSize < 16)
    throw new RangeError('chunkSize must be an integer >= 16')
  const limits = resolveGgufLimits(options.limits)
  let handle: FileHandle | undefined
  try {
    let source: ReadSource
    let stats: { size: number; isFile(): boolean }
    if (options.fd === undefined) {
      // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever.
      handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK)
      source = handle
      stats = await handle.stat()
    } else {
      source = fdSource(options.fd)
      stats = await fstatFd(options.fd)
    }
    if (!stats.isFile()) throw new GgufFormatError(path, 'not a regular file')
    return await parse(source, stats.size, path, { ...options, chunkSize, limits })
  } finally {
    await handle?.close()
  }
}
