import type { FileHandle } from 'node:fs/promises'
import { RbeeError } from '@rbee/common'
import {
  estimateWorkerMemoryMb,
  GgufFormatError,
  type GgufHeader,
  type GgufHeaderFacts,
  type GgufHeaderPool,
  type MemoryEstimateInput,
} from '@rbee/gguf'
import { fileSha256 } from './file-sha256.js'
import { openModelFile } from './model-file.js'

/** What the catalog records about a model file, read from the file itself. */
export interface ModelFacts {
  path: string
  size_bytes: number
  sha256: string
  architecture: string
  parameter_count: number
  quantization: string
  context_length: number
  memory_estimate_mb: number
  mtime_ms: number
}

/** Worker shape the catalog's memory estimate assumes (the hive's spawn defaults). */
export interface EstimateShape {
  slots: number
  ctxSize: number
}

/**
 * Estimates a worker's memory for `header` at `shape`; with `capToModel` the context is first
 * capped at what the model was trained for (the catalog's default estimate). Headers that lack
 * the architecture figures fall back to the file size plus the runtime overhead, so an odd but
 * loadable model is still admitted by size.
 */
export function estimateMemoryMb(
  header: MemoryEstimateInput & Pick<GgufHeader, 'contextLength'>,
  shape: EstimateShape,
  capToModel = false,
): number {
  const cap = capToModel ? (header.contextLength ?? shape.ctxSize) : shape.ctxSize
  const ctxSize = Math.max(128, Math.min(shape.ctxSize, cap))
  try {
    return estimateWorkerMemoryMb(header, { ctxSize, slots: shape.slots })
  } catch (err) {
    if (!(err instanceof GgufFormatError)) throw err
    return Math.ceil(header.fileSize / (1024 * 1024)) + 64
  }
}

/** Reads the header of the open `handle` in the pool, mapping a bad header to `RBEE_MODEL_INVALID`. */
async function readHeader(
  headers: GgufHeaderPool,
  path: string,
  handle: FileHandle,
  signal: AbortSignal | undefined,
  scalars = false,
): Promise<GgufHeaderFacts> {
  try {
    return await headers.read(path, { fd: handle.fd, signal, scalars })
  } catch (err) {
    if (!(err instanceof GgufFormatError)) throw err
    throw new RbeeError('RBEE_MODEL_INVALID', `${path} is not a usable GGUF model: ${err.problem}`, {
      cause: err,
    })
  }
}

/**
 * Reads a model's GGUF header off the event loop (in `headers`, bounded in memory and time);
 * with `scalars`, its metadata's scalar values too.
 * @throws RbeeError `RBEE_MODEL_INVALID` when the file is not a regular file or not a usable
 *   GGUF model, `RBEE_MODEL_NOT_FOUND` when it does not exist.
 */
export async function readModelHeader(
  headers: GgufHeaderPool,
  path: string,
  signal?: AbortSignal,
  scalars = false,
): Promise<GgufHeaderFacts> {
  const handle = await openModelFile(path)
  try {
    return await readHeader(headers, path, handle, signal, scalars)
  } finally {
    await handle.close()
  }
}

/** Options of {@link inspectModelFile}. */
export interface InspectOptions {
  /** The file's sha256 when already known (a download hashes on the way); else it is hashed. */
  knownSha256?: string
  signal?: AbortSignal
}

/**
 * Reads a model's GGUF header (validating it) and hashes the file, all through one open handle,
 * so the facts describe one file even if the path changes meanwhile.
 * @throws as {@link readModelHeader}.
 */
export async function inspectModelFile(
  headers: GgufHeaderPool,
  path: string,
  shape: EstimateShape,
  options: InspectOptions = {},
): Promise<ModelFacts> {
  const handle = await openModelFile(path)
  try {
    const header = await readHeader(headers, path, handle, options.signal)
    const sha256 = options.knownSha256 ?? (await fileSha256(handle))
    const st = await handle.stat()
    return {
      path,
      size_bytes: st.size,
      sha256,
      architecture: header.architecture,
      parameter_count: header.parameterCount,
      quantization: header.quantization,
      context_length: header.contextLength ?? 0,
      memory_estimate_mb: estimateMemoryMb(header, shape, true),
      mtime_ms: Math.trunc(st.mtimeMs),
    }
  } finally {
    await handle.close()
  }
}
