import type { FileHandle } from 'node:fs/promises'
import { basename } from 'node:path'
import { RbeeError } from '@rbee/common'
import type { ModelPart } from '@rbee/contracts'
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
import { modelPartPaths } from './model-parts.js'

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
  /** Every file of a split model, first part first; absent for a one-file model. */
  parts?: ModelPart[]
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

/**
 * The facts of a split model from its first part's header and every other part's: the bytes and
 * parameters of all parts together (what loading it costs), after checking each part is there,
 * is the part its name says, and that the parts hold the tensors the first one announces.
 * @throws RbeeError `RBEE_MODEL_INVALID` for a missing, misnamed or inconsistent part.
 */
async function wholeSplitModel(
  headers: GgufHeaderPool,
  path: string,
  first: GgufHeaderFacts,
  signal: AbortSignal | undefined,
): Promise<{ header: GgufHeaderFacts; parts: Array<{ path: string; size: number }> }> {
  const split = first.split!
  const invalid = (why: string): RbeeError =>
    new RbeeError('RBEE_MODEL_INVALID', `${path} is not a usable split GGUF model: ${why}`)
  const paths = modelPartPaths(path)
  if (split.no !== 0)
    throw invalid(`it is part ${split.no + 1} of ${split.count}; import or download the first part`)
  if (paths.length !== split.count) {
    throw invalid(
      `its header says ${split.count} parts, so it must be named <name>-00001-of-${String(split.count).padStart(5, '0')}.gguf with the other parts beside it`,
    )
  }
  let fileSize = first.fileSize
  let parameterCount = first.parameterCount
  let tensors = first.tensorCount
  const sizes = [{ path, size: first.fileSize }]
  for (const [i, p] of paths.entries()) {
    if (i === 0) continue
    let part: GgufHeaderFacts
    try {
      part = await readModelHeader(headers, p, signal)
    } catch (err) {
      if (err instanceof RbeeError && err.code === 'RBEE_MODEL_NOT_FOUND')
        throw invalid(`part ${p} is missing`)
      throw err
    }
    if (part.split?.no !== i || part.split.count !== split.count) {
      throw invalid(
        `${p} is not part ${i + 1} of ${split.count} (its header says ${part.split ? `part ${part.split.no + 1} of ${part.split.count}` : 'it is a whole model'})`,
      )
    }
    fileSize += part.fileSize
    sizes.push({ path: p, size: part.fileSize })
    parameterCount += part.parameterCount
    tensors += part.tensorCount
  }
  if (split.tensorsCount !== tensors) {
    throw invalid(`the parts hold ${tensors} tensors, the first part announces ${split.tensorsCount}`)
  }
  return { header: { ...first, fileSize, parameterCount }, parts: sizes }
}

/** Options of {@link inspectModelFile}. */
export interface InspectOptions {
  /** The file's sha256 when already known (a download hashes on the way); else it is hashed. */
  knownSha256?: string
  /** The sha256 of a split model's other parts by file name, when known; the others are hashed. */
  knownPartSha256?: ReadonlyMap<string, string>
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
    const first = await readHeader(headers, path, handle, options.signal)
    const sha256 = options.knownSha256 ?? (await fileSha256(handle))
    const st = await handle.stat()
    const whole = first.split ? await wholeSplitModel(headers, path, first, options.signal) : undefined
    const header = whole?.header ?? first
    const parts =
      whole &&
      (await Promise.all(
        whole.parts.map(async (p, i): Promise<ModelPart> => {
          const file = basename(p.path)
          const sha = i === 0 ? sha256 : (options.knownPartSha256?.get(file) ?? (await fileSha256(p.path)))
          return { file, size_bytes: p.size, sha256: sha }
        }),
      ))
    return {
      path,
      size_bytes: header.fileSize,
      sha256,
      architecture: header.architecture,
      parameter_count: header.parameterCount,
      quantization: header.quantization,
      context_length: header.contextLength ?? 0,
      memory_estimate_mb: estimateMemoryMb(header, shape, true),
      mtime_ms: Math.trunc(st.mtimeMs),
      ...(parts ? { parts } : {}),
    }
  } finally {
    await handle.close()
  }
}
