import { randomBytes } from 'node:crypto'
import { type ErrorCode, RbeeError } from './errors.js'

/**
 * What a client without admin rights reads instead of a server-side error's own message, which
 * may carry command lines, paths, addresses and process ids. The code, status and `Retry-After`
 * stay; the details go to the daemon's log under the error id.
 */
const PUBLIC_MESSAGES: Partial<Record<ErrorCode, string>> = {
  RBEE_INTERNAL: 'internal error',
  RBEE_UPSTREAM: 'a hive or worker gave an unusable answer',
  RBEE_UNREACHABLE: 'a hive or worker could not be reached',
  RBEE_JOB_FAILED: 'the job failed',
  RBEE_HIVE_OFFLINE: 'the hive this needs is offline',
  RBEE_WORKER_FAILED: 'the worker serving this request failed',
  RBEE_WORKER_STALLED: 'the worker serving this request stopped producing tokens',
  RBEE_SPAWN_FAILED: 'a worker for this model could not be started',
  RBEE_DOWNLOAD_FAILED: 'the model download failed',
  RBEE_CHECKSUM_MISMATCH: 'the downloaded model did not match its checksum',
  RBEE_DISK_FULL: 'the hive has not enough free disk space for the model',
  RBEE_ENGINE: 'the inference engine failed',
}

/** Server-side codes whose messages are written for any client: they say what to wait for or change. */
const CLIENT_FACING = new Set<ErrorCode>([
  'RBEE_BUSY',
  'RBEE_DRAINING',
  'RBEE_NOT_READY',
  'RBEE_NO_CAPACITY',
  'RBEE_QUEUE_TIMEOUT',
  'RBEE_DEADLINE_EXCEEDED',
])

/** A fresh id that ties an error a client saw to the daemon's log line (`err-5f3a…`). */
export function newErrorId(): string {
  return `err-${randomBytes(6).toString('hex')}`
}

/** Whether an error is the server's (5xx) and its message may carry internals. */
export function isServerSideError(e: RbeeError): boolean {
  return e.status >= 500 && !CLIENT_FACING.has(e.code)
}

/** The error as a client without admin rights sees it: the same code and status, a short message with the error id. */
export function redactError(e: RbeeError, errorId: string): RbeeError {
  const what = PUBLIC_MESSAGES[e.code] ?? 'the request failed'
  return new RbeeError(e.code, `${what} (error id ${errorId}; the details are in the server's log)`, {
    status: e.status,
    ...(e.retryAfterS === undefined ? {} : { retryAfterS: e.retryAfterS }),
  })
}
