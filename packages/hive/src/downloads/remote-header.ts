import { Deadline, errorMessage, RbeeError } from '@rbee/common'
import { GGUF_LIMITS, type GgufHeader, type ReadSource, readGgufHeaderFrom } from '@rbee/gguf'
import type { HfHub, RemoteFile } from './hf-hub.js'

/** Bytes of a remote file a header read may fetch (a 7B model's header, vocabulary included, is 3–6 MiB). */
export const REMOTE_HEADER_MAX_BYTES = 64 * 1024 * 1024
/** Each ranged read of a remote header is this long; the whole read is bounded by `timeoutMs`. */
const CHUNK_BYTES = 2 * 1024 * 1024

/**
 * Reads a GGUF header straight from where a hub (or a peer) serves the file, with `Range`
 * requests (`bytes=N-`, read up to what is needed, then closed: servers that only honour
 * open-ended ranges work too), within `GGUF_LIMITS`, at most {@link REMOTE_HEADER_MAX_BYTES} and
 * `timeoutMs` in all. Nothing is written to disk.
 * @throws RbeeError `RBEE_DOWNLOAD_FAILED` when the file cannot be read so; GgufFormatError for
 *   a file that is not a usable GGUF header.
 */
export async function readRemoteHeader(
  hub: HfHub,
  remote: RemoteFile & { size: number },
  name: string,
  o: { signal: AbortSignal; timeoutMs: number },
): Promise<GgufHeader> {
  const deadline = new Deadline({ ms: o.timeoutMs, parent: o.signal })
  let fetched = 0
  const source: ReadSource = {
    read: async (buffer, offset, length, position) => {
      if (fetched + length > REMOTE_HEADER_MAX_BYTES) {
        throw new RbeeError(
          'RBEE_DOWNLOAD_REFUSED',
          `the header of ${name} is over ${REMOTE_HEADER_MAX_BYTES} bytes`,
        )
      }
      const res = await fetch(remote.url, {
        headers: {
          ...hub.headersFor(remote.url),
          range: `bytes=${position}-`,
          'accept-encoding': 'identity',
        },
        signal: deadline.signal,
      })
      const start = Number(/^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '')?.[1] ?? Number.NaN)
      if (res.status !== 206 || start !== position || !res.body) {
        await res.body?.cancel()
        throw new RbeeError('RBEE_DOWNLOAD_FAILED', `ranged read of ${name} answered HTTP ${res.status}`)
      }
      let got = 0
      const reader = res.body.getReader()
      try {
        while (got < length) {
          const { done, value } = await reader.read()
          if (done) break
          const take = Math.min(value.length, length - got)
          buffer.set(value.subarray(0, take), offset + got)
          got += take
        }
      } finally {
        await reader.cancel().catch(() => {})
      }
      fetched += got
      return { bytesRead: got }
    },
  }
  try {
    return await readGgufHeaderFrom(source, remote.size, name, {
      chunkSize: CHUNK_BYTES,
      limits: GGUF_LIMITS,
    })
  } catch (err) {
    if (o.signal.aborted) throw o.signal.reason
    if (deadline.timedOut) {
      throw new RbeeError(
        'RBEE_DOWNLOAD_FAILED',
        `reading the header of ${name}: ${errorMessage(deadline.signal.reason)}`,
      )
    }
    throw err
  } finally {
    deadline.clear()
  }
}
