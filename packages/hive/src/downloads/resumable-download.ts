import { createHash, type Hash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { open, stat, truncate } from 'node:fs/promises'
import { Backoff, delay, errorMessage, RbeeError } from '@rbee/common'
import { isPermanentStatus } from './hf-hub.js'
import { type Progress, ProgressMeter } from './progress-meter.js'

export interface ResumableDownloadOptions {
  url: string
  headers: Record<string, string>
  /** The partial file: appended to when it exists (resume), created otherwise. */
  dest: string
  expectedSize: number | undefined
  signal: AbortSignal
  /** Called at most every `progressEveryMs` and once at the end. */
  onProgress: (p: Progress) => void
  /** Called before each retry. */
  onRetry: (info: {
    error: string
    bytes: number
    delayMs: number
    attempt: number
    maxAttempts: number
  }) => void
  /** Consecutive failed attempts (without new bytes) before giving up. @default 5 */
  maxAttempts?: number
  /** @default 500 */
  retryInitialMs?: number
  /** No byte for this long aborts the attempt (and retries). @default 30_000 */
  stallTimeoutMs?: number
  /** @default 500 */
  progressEveryMs?: number
  /** Builds the error for a non-retryable HTTP status. */
  httpError: (status: number) => RbeeError
}

export interface DownloadResult {
  size: number
  sha256: string
  /** Offsets at which an interrupted transfer was resumed with `Range`. */
  resumedAt: number[]
  attempts: number
}

class HttpStatusError extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`)
  }
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0
    throw err
  }
}

async function hashPrefix(path: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 }))
    hash.update(chunk as Buffer)
}

/**
 * Downloads `url` into `dest`, streaming and hashing as it goes. An interrupted transfer (reset,
 * early end, stall, 5xx) is resumed with `Range: bytes=<have>-` after a backoff; a server that
 * ignores the range restarts from zero. A partial `dest` from an earlier run is resumed the same
 * way. The caller verifies the hash and renames the file.
 *
 * @throws the abort reason when `signal` aborts (the partial file is left to the caller);
 *   `httpError(status)` for 4xx answers; RbeeError `RBEE_DOWNLOAD_FAILED` after `maxAttempts`
 *   consecutive failures.
 */
export async function resumableDownload(o: ResumableDownloadOptions): Promise<DownloadResult> {
  const maxAttempts = o.maxAttempts ?? 5
  const backoff = new Backoff({ initialMs: o.retryInitialMs ?? 500, maxMs: 10_000 })
  let have = await sizeOf(o.dest)
  if (o.expectedSize !== undefined && have > o.expectedSize) {
    await truncate(o.dest, 0)
    have = 0
  }
  let hash = createHash('sha256')
  if (have > 0) await hashPrefix(o.dest, hash)
  const meter = new ProgressMeter({ total: o.expectedSize, startBytes: have, everyMs: o.progressEveryMs })
  const resumedAt: number[] = []
  let failures = 0
  let attempts = 0

  const restart = async (): Promise<void> => {
    await truncate(o.dest, 0).catch(() => {})
    have = 0
    hash = createHash('sha256')
  }

  for (;;) {
    o.signal.throwIfAborted()
    attempts++
    const before = have
    const stall = new AbortController()
    let stallTimer: NodeJS.Timeout | undefined
    const armStall = (): void => {
      clearTimeout(stallTimer)
      stallTimer = setTimeout(
        () => stall.abort(new Error(`no data for ${o.stallTimeoutMs ?? 30_000} ms`)),
        o.stallTimeoutMs ?? 30_000,
      )
      stallTimer.unref()
    }
    try {
      const headers = { ...o.headers }
      if (have > 0) {
        headers.range = `bytes=${have}-`
        resumedAt.push(have)
      }
      armStall()
      const res = await fetch(o.url, { headers, signal: AbortSignal.any([o.signal, stall.signal]) })
      if (have > 0 && res.status === 416 && o.expectedSize === have) {
        await res.body?.cancel()
        break
      }
      if (res.status === 416) {
        await res.body?.cancel()
        await restart()
        continue
      }
      if (!res.ok) {
        await res.body?.cancel()
        throw new HttpStatusError(res.status)
      }
      if (have > 0 && res.status !== 206) {
        // The server ignored the range and sends everything again.
        await restart()
      } else if (res.status === 206) {
        const start = Number(/bytes (\d+)-/.exec(res.headers.get('content-range') ?? '')?.[1] ?? Number.NaN)
        if (start !== have) {
          await res.body?.cancel()
          await restart()
          throw new Error(`server resumed at byte ${start}, not ${before}; starting over`)
        }
      }
      const fh = await open(o.dest, have > 0 ? 'a' : 'w')
      try {
        if (!res.body) throw new Error('empty response body')
        for await (const chunk of res.body) {
          armStall()
          const buf = chunk as Uint8Array
          await fh.write(buf)
          hash.update(buf)
          have += buf.length
          meter.update(have)
          if (meter.due()) o.onProgress(meter.read())
        }
      } finally {
        await fh.close()
      }
      if (o.expectedSize !== undefined && have < o.expectedSize) {
        throw new Error(`connection closed at ${have} of ${o.expectedSize} bytes`)
      }
      break
    } catch (err) {
      if (o.signal.aborted) throw o.signal.reason
      if (err instanceof HttpStatusError && isPermanentStatus(err.status)) throw o.httpError(err.status)
      if (have > before) {
        failures = 1
        backoff.reset()
      } else failures++
      const msg = stall.signal.aborted ? errorMessage(stall.signal.reason) : errorMessage(err)
      if (failures >= maxAttempts) {
        throw new RbeeError(
          'RBEE_DOWNLOAD_FAILED',
          `download failed after ${failures} attempts in a row (${msg}); ${have} bytes are kept, run model_download again to resume`,
          { cause: err },
        )
      }
      const delayMs = backoff.next()
      o.onRetry({ error: msg, bytes: have, delayMs, attempt: failures, maxAttempts })
      await delay(delayMs, o.signal)
    } finally {
      clearTimeout(stallTimer)
    }
  }
  meter.update(have)
  o.onProgress(meter.read())
  return { size: have, sha256: hash.digest('hex'), resumedAt, attempts }
}
