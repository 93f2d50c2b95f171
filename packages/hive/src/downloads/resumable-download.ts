import { createHash, type Hash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { type FileHandle, open, stat, truncate } from 'node:fs/promises'
import { Backoff, Deadline, delay, errorMessage, RbeeError } from '@rbee/common'
import { HIVE_DEFAULTS } from '../hive-defaults.js'
import { isNoSpaceError, SPACE_CHECK_EVERY_BYTES } from './disk-space.js'
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
  /**
   * No answer, or less than `STALL_MIN_BYTES` of the body, for this long aborts the attempt (and
   * retries).
   * @default 30_000
   */
  stallTimeoutMs?: number
  /** @default 500 */
  progressEveryMs?: number
  /** Builds the error for a non-retryable HTTP status. */
  httpError: (status: number) => RbeeError
  /**
   * Free space: `check` runs before each attempt writes and after every
   * `SPACE_CHECK_EVERY_BYTES` written (it throws to stop the download); `full` builds the error
   * for a write that found the disk full. Neither is retried.
   */
  space?: {
    check: (have: number) => Promise<void>
    full: (have: number, cause: unknown) => Promise<RbeeError>
  }
}

export interface DownloadResult {
  size: number
  sha256: string
  /** Offsets at which an interrupted transfer was resumed with `Range`. */
  resumedAt: number[]
  attempts: number
}

/**
 * The body must bring this much per stall period: a server that drips a byte now and then (never
 * quiet for a whole period) would otherwise hold a download for ever.
 */
export const STALL_MIN_BYTES = 16 * 1024

class HttpStatusError extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`)
  }
}

/** A hub answer that breaks a download rule: permanent, and nothing of it is kept. */
function refused(message: string): RbeeError {
  return new RbeeError('RBEE_DOWNLOAD_REFUSED', message)
}

/**
 * The most bytes the file may have: the size the hub listed, else the one this answer announces
 * (Content-Range's total on a 206, Content-Length on a 200); a conflict when both are known and
 * differ.
 */
function sizeLimit(
  listed: number | undefined,
  res: Pick<Response, 'status' | 'headers'>,
): { bytes: number | undefined; from: string; conflict?: string } {
  let announced: number | undefined
  let header = 'Content-Length'
  if (res.status === 206) {
    header = 'Content-Range'
    const total = /^bytes \d+-\d+\/(\d+)$/.exec(res.headers.get('content-range') ?? '')?.[1]
    announced = total === undefined ? undefined : Number(total)
  } else {
    const length = Number(res.headers.get('content-length') ?? Number.NaN)
    announced = Number.isSafeInteger(length) ? length : undefined
  }
  if (listed !== undefined) {
    const conflict =
      announced !== undefined && announced !== listed
        ? `the server announced ${announced} bytes (${header}) for a file the hub lists at ${listed} bytes; refused`
        : undefined
    return { bytes: listed, from: 'the hub lists for the file', ...(conflict ? { conflict } : {}) }
  }
  return { bytes: announced, from: `its ${header} announced` }
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0
    throw err
  }
}

/** Writes all of `buf`: a short write (a disk nearly full) is continued, so the next one fails. */
async function writeAll(fh: FileHandle, buf: Uint8Array): Promise<void> {
  for (let done = 0; done < buf.length; ) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done)
    // A regular file takes no bytes only when there is no room for them.
    if (bytesWritten === 0)
      throw Object.assign(new Error('no byte written: no space left'), { code: 'ENOSPC' })
    done += bytesWritten
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
 * The body is held to the size the hub lists for the file (else to the one the answer announces):
 * nothing past it is written, and an answer that announces another size, sends more, or comes
 * compressed (`Content-Encoding`, although `identity` is asked for) is refused at once.
 *
 * @throws the abort reason when `signal` aborts (the partial file is left to the caller);
 *   RbeeError `RBEE_DISK_FULL` when `space.check` refuses or a write finds the disk full;
 *   `httpError(status)` for 4xx answers; RbeeError `RBEE_DOWNLOAD_REFUSED` for an answer that
 *   breaks the rules above (the partial file is left to the caller); RbeeError
 *   `RBEE_DOWNLOAD_FAILED` after `maxAttempts` consecutive failures.
 */
export async function resumableDownload(o: ResumableDownloadOptions): Promise<DownloadResult> {
  const maxAttempts = o.maxAttempts ?? 5
  const stallTimeoutMs = o.stallTimeoutMs ?? HIVE_DEFAULTS.downloadStallTimeoutMs
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
    // Covers the connection, the answer and every gap between chunks of the body.
    const stall = new Deadline({
      ms: stallTimeoutMs,
      parent: o.signal,
      message: `less than ${STALL_MIN_BYTES} bytes in ${stallTimeoutMs} ms`,
    })
    try {
      await o.space?.check(have)
      // identity: a compressed answer would be inflated by fetch before any size check could
      // see it (199 KB of gzip became 179 MB on disk); it is refused below instead.
      const headers: Record<string, string> = { ...o.headers, 'accept-encoding': 'identity' }
      if (have > 0) {
        headers.range = `bytes=${have}-`
        resumedAt.push(have)
      }
      const res = await fetch(o.url, { headers, signal: stall.signal })
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
      const encoding = res.headers.get('content-encoding')
      if (encoding && encoding.toLowerCase() !== 'identity') {
        await res.body?.cancel()
        throw refused(
          `the server sent the file with Content-Encoding: ${encoding} although identity was asked for; compressed answers are refused, and nothing of this one was written`,
        )
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
      const limit = sizeLimit(o.expectedSize, res)
      if (limit.conflict) {
        await res.body?.cancel()
        throw refused(limit.conflict)
      }
      let nextSpaceCheck = have + SPACE_CHECK_EVERY_BYTES
      const fh = await open(o.dest, have > 0 ? 'a' : 'w')
      try {
        if (!res.body) throw new Error('empty response body')
        let sinceRestart = 0
        for await (const chunk of res.body) {
          if (o.space && have >= nextSpaceCheck) {
            await o.space.check(have)
            nextSpaceCheck = have + SPACE_CHECK_EVERY_BYTES
          }
          let buf = chunk as Uint8Array
          sinceRestart += buf.length
          if (sinceRestart >= STALL_MIN_BYTES) {
            stall.restart()
            sinceRestart = 0
          }
          const over = limit.bytes !== undefined && have + buf.length > limit.bytes
          // The bytes past the announced size are never written.
          if (over) buf = buf.subarray(0, limit.bytes! - have)
          await writeAll(fh, buf)
          hash.update(buf)
          have += buf.length
          meter.update(have)
          if (over) {
            throw refused(
              `the server sent more than the ${limit.bytes} bytes ${limit.from}; the download was stopped there and discarded`,
            )
          }
          if (meter.due()) o.onProgress(meter.read())
        }
      } finally {
        await fh.close()
      }
      if (limit.bytes !== undefined && have < limit.bytes) {
        throw new Error(`connection closed at ${have} of ${limit.bytes} bytes`)
      }
      break
    } catch (err) {
      if (o.signal.aborted) throw o.signal.reason
      if (err instanceof RbeeError) throw err
      // A full disk stays full: retrying would only fill it again.
      if (isNoSpaceError(err)) {
        throw o.space
          ? await o.space.full(have, err)
          : new RbeeError('RBEE_DISK_FULL', `the disk is full after ${have} bytes`, { cause: err })
      }
      if (err instanceof HttpStatusError && isPermanentStatus(err.status)) throw o.httpError(err.status)
      if (have > before) {
        failures = 1
        backoff.reset()
      } else failures++
      const msg = stall.timedOut ? errorMessage(stall.signal.reason) : errorMessage(err)
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
      stall.clear()
    }
  }
  meter.update(have)
  o.onProgress(meter.read())
  return { size: have, sha256: hash.digest('hex'), resumedAt, attempts }
}
