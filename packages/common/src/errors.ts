import { describeIssues, fieldIssues } from '@rbee/contracts'
import type { ZodError } from 'zod'

/**
 * Stable error codes. A code never changes meaning once shipped; clients and scripts match on it.
 * The HTTP status is the one a server answers with when this error reaches its error handler.
 */
export const ERROR_CODES = {
  RBEE_BAD_REQUEST: 400,
  RBEE_VALIDATION: 400,
  RBEE_UNAUTHORIZED: 401,
  RBEE_FORBIDDEN: 403,
  RBEE_IMPORT_DENIED: 403,
  RBEE_NOT_FOUND: 404,
  RBEE_MODEL_NOT_FOUND: 404,
  RBEE_WORKER_NOT_FOUND: 404,
  RBEE_HIVE_NOT_FOUND: 404,
  RBEE_JOB_NOT_FOUND: 404,
  RBEE_CONFLICT: 409,
  RBEE_MODEL_IN_USE: 409,
  /** A spawn asked for a backend that does not load on that device (the message says why). */
  RBEE_BACKEND_UNUSABLE: 409,
  /** A hive or worker of another wire protocol (the message names both releases). */
  RBEE_PROTOCOL_MISMATCH: 409,
  RBEE_PAYLOAD_TOO_LARGE: 413,
  RBEE_QUEUE_FULL: 429,
  RBEE_INTERNAL: 500,
  RBEE_UPSTREAM: 502,
  RBEE_UNREACHABLE: 502,
  RBEE_JOB_FAILED: 500,
  RBEE_BUSY: 503,
  RBEE_DRAINING: 503,
  RBEE_NOT_READY: 503,
  RBEE_NO_CAPACITY: 503,
  RBEE_QUEUE_TIMEOUT: 503,
  RBEE_HIVE_OFFLINE: 503,
  /**
   * The request's or job's deadline (`X-Request-Deadline`, `X-Request-Timeout`, a `timeout`
   * field) passed before it finished: in the queue, waiting for a spawn, or while generating.
   */
  RBEE_DEADLINE_EXCEEDED: 504,
  RBEE_WORKER_FAILED: 502,
  RBEE_SPAWN_FAILED: 500,
  RBEE_MODEL_INVALID: 400,
  /** A prompt (or embedding input) that cannot fit the worker's context. */
  RBEE_PROMPT_TOO_LONG: 400,
  /**
   * The model's tool call or structured answer broke the request's JSON schema in a way the
   * grammar cannot prevent (e.g. `multipleOf`, `uniqueItems`) on every attempt: the message names
   * the keyword, the path and the value.
   */
  RBEE_OUTPUT_CONSTRAINT: 422,
  RBEE_DOWNLOAD_FAILED: 502,
  RBEE_CHECKSUM_MISMATCH: 502,
  /** The hub's answer breaks a download rule (more bytes than announced, a compressed body). */
  RBEE_DOWNLOAD_REFUSED: 502,
  /**
   * Not enough free space on the hive for a download (before it starts, or as it goes): the
   * message gives the bytes needed, the bytes free, where, and what to free.
   */
  RBEE_DISK_FULL: 507,
  RBEE_CANCELLED: 499,
  RBEE_CONFIG: 400,
  RBEE_ENGINE: 500,
  /** A worker sent no first token, or no next token, within the queen's stall bound. */
  RBEE_WORKER_STALLED: 504,
  /** A stream brought nothing, not even a keep-alive, within the client's bound: the server stopped answering. */
  RBEE_STREAM_STALLED: 504,
} as const satisfies Record<string, number>

export type ErrorCode = keyof typeof ERROR_CODES

/** True when `code` is one of rbee's stable error codes. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code)
}

export interface RbeeErrorOptions {
  /** The underlying error, kept for logs and `--verbose`. */
  cause?: unknown
  /** Extra machine-readable details (field issues, ids) sent in the body. */
  details?: unknown
  /** Seconds a client should wait before retrying (sets `Retry-After`). */
  retryAfterS?: number
  /** Overrides the code's default HTTP status. */
  status?: number
}

/** The one error type of rbee: a stable `code`, an HTTP `status`, a human message. */
export class RbeeError extends Error {
  readonly code: ErrorCode
  readonly status: number
  readonly details: unknown
  readonly retryAfterS: number | undefined

  constructor(code: ErrorCode, message: string, options: RbeeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'RbeeError'
    this.code = code
    this.status = options.status ?? ERROR_CODES[code]
    this.details = options.details
    this.retryAfterS = options.retryAfterS
  }

  /** The `{ error: { code, message } }` body. */
  toBody(): { error: { code: string; message: string; details?: unknown } } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.details === undefined ? {} : { details: this.details }),
      },
    }
  }
}

/** A 400 that names every bad field, built from a zod error. */
export function validationError(error: ZodError, what = 'request body'): RbeeError {
  return new RbeeError('RBEE_VALIDATION', `invalid ${what}: ${describeIssues(error)}`, {
    details: { issues: fieldIssues(error) },
  })
}

/** A 400 that names one field of the body (`options.temperature`) and why it is refused. */
export function refusedField(path: string, why: string): RbeeError {
  return new RbeeError('RBEE_VALIDATION', `invalid request body: ${path}: ${why}`, {
    details: { issues: [{ path, message: why }] },
  })
}

/** True for errors thrown by zod's `parse`. */
export function isZodError(err: unknown): err is ZodError {
  return (
    typeof err === 'object' &&
    err !== null &&
    (err as { name?: unknown }).name === 'ZodError' &&
    Array.isArray((err as { issues?: unknown }).issues)
  )
}

/** A short message for any thrown value, for logs and error lines. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message
  return String(err)
}
