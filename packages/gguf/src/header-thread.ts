// The body of one GgufHeaderPool thread: reads one header and posts its facts (or why not) back.
import { parentPort, workerData } from 'node:worker_threads'
import { GgufFormatError } from './gguf-format-error.js'
import { readGgufHeader } from './gguf-reader.js'
import type { HeaderThreadInput, HeaderThreadResult } from './header-pool.js'
import { scalarMetadata } from './metadata-scalars.js'

function failure(err: unknown): HeaderThreadResult {
  if (err instanceof GgufFormatError) return { ok: false, kind: 'gguf', message: err.problem }
  const code = (err as NodeJS.ErrnoException).code
  return { ok: false, kind: 'other', message: err instanceof Error ? err.message : String(err), code }
}

// workerData comes from the pool in this package, never from the wire.
const input = workerData as HeaderThreadInput
let result: HeaderThreadResult
try {
  const { metadata, tensors, ...facts } = await readGgufHeader(input.path, {
    fd: input.fd,
    limits: input.limits,
  })
  result = {
    ok: true,
    facts: {
      ...facts,
      tensorCount: tensors.length,
      metadataCount: metadata.size,
      ...(input.scalars ? { scalars: scalarMetadata(metadata) } : {}),
    },
  }
} catch (err) {
  result = failure(err)
}
parentPort?.postMessage(result)
