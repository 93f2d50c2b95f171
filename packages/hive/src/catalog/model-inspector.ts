import { stat } from 'node:fs/promises'
import { RbeeError } from '@rbee/common'
import { estimateWorkerMemoryMb, GgufFormatError, type GgufHeader, readGgufHeader } from '@rbee/gguf'
import { fileSha256 } from './file-sha256.js'

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
export function estimateMemoryMb(header: GgufHeader, shape: EstimateShape, capToModel = false): number {
  const cap = capToModel ? (header.contextLength ?? shape.ctxSize) : shape.ctxSize
  const ctxSize = Math.max(128, Math.min(shape.ctxSize, cap))
  try {
    return estimateWorkerMemoryMb(header, { ctxSize, slots: shape.slots })
  } catch (err) {
    if (!(err instanceof GgufFormatError)) throw err
    return Math.ceil(header.fileSize / (1024 * 1024)) + 64
  }
}

/**
 * Reads a model's GGUF header (validating it) and hashes the file (unless `knownSha256` is given,
 * as after a download that hashed it on the way).
 * @throws RbeeError `RBEE_MODEL_INVALID` when the file is not GGUF, `RBEE_MODEL_NOT_FOUND` when
 *   it does not exist.
 */
export async function inspectModelFile(
  path: string,
  shape: EstimateShape,
  knownSha256?: string,
): Promise<ModelFacts> {
  let header: GgufHeader
  try {
    header = await readGgufHeader(path)
  } catch (err) {
    if (err instanceof GgufFormatError) {
      throw new RbeeError('RBEE_MODEL_INVALID', `${path} is not a usable GGUF model: ${err.message}`, {
        cause: err,
      })
    }
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new RbeeError('RBEE_MODEL_NOT_FOUND', `no such file: ${path}`, { cause: err })
    }
    if ((err as NodeJS.ErrnoException).code === 'EISDIR') {
      throw new RbeeError('RBEE_MODEL_INVALID', `${path} is a directory, not a .gguf file`, { cause: err })
    }
    throw err
  }
  const [sha256, st] = await Promise.all([knownSha256 ?? fileSha256(path), stat(path)])
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
}
