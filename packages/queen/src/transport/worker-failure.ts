import { errorFromResponse } from '@rbee/client'
import { errorMessage, RbeeError } from '@rbee/common'
import type { WorkerEntry } from '../registry/worker-entry.js'

/**
 * A worker failed a request before the client saw anything from it. `retryable` says another
 * worker may take the request; `quarantine` says this worker should leave routing for a moment
 * (it refused or dropped the connection, or answered 5xx other than busy).
 */
export class WorkerFailure extends RbeeError {
  readonly retryable: boolean
  readonly quarantine: boolean
  readonly workerId: string

  constructor(
    workerId: string,
    message: string,
    options: {
      retryable: boolean
      quarantine: boolean
      cause?: unknown
      status?: number
      code?: RbeeError['code']
    },
  ) {
    super(options.code ?? 'RBEE_WORKER_FAILED', message, { cause: options.cause, status: options.status })
    this.workerId = workerId
    this.retryable = options.retryable
    this.quarantine = options.quarantine
  }
}

/**
 * What went wrong on the connection to a worker, whichever transport carried it:
 * - `refused`: nothing listens there (the worker is gone or not up yet);
 * - `reset`: the connection was reset or closed before the answer was complete;
 * - `timeout`: no connection, or no answer head, within its bound;
 * - `bad-response`: bytes that are not an HTTP/1.1 answer;
 * - `other`: anything else the socket reported (unreachable host, DNS…).
 */
export type TransportFailureKind = 'refused' | 'reset' | 'timeout' | 'bad-response' | 'other'

/**
 * The relay's decision for each kind: all are worth another worker (nothing reached the client
 * yet when they count), and all take this worker out of routing for a moment: it refused, dropped
 * or garbled a request, or hung, and the next request should not find it first.
 */
export const TRANSPORT_DECISIONS: Readonly<
  Record<TransportFailureKind, { retryable: boolean; quarantine: boolean }>
> = Object.freeze({
  refused: { retryable: true, quarantine: true },
  reset: { retryable: true, quarantine: true },
  timeout: { retryable: true, quarantine: true },
  'bad-response': { retryable: true, quarantine: true },
  other: { retryable: true, quarantine: true },
})

const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'])
const TIMEOUT_CODES = new Set([
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
])
const BAD_RESPONSE_CODES = new Set([
  'HPE_INVALID_CONSTANT',
  'HPE_INVALID_VERSION',
  'HPE_INVALID_STATUS',
  'HPE_INVALID_HEADER_TOKEN',
  'HPE_INVALID_CHUNK_SIZE',
  'HPE_INVALID_CONTENT_LENGTH',
  'HPE_UNEXPECTED_CONTENT_LENGTH',
  'HPE_INVALID_TRANSFER_ENCODING',
  'HPE_HEADER_OVERFLOW',
  'HPE_CHUNK_EXTENSIONS_OVERFLOW',
  'HPE_CR_EXPECTED',
  'HPE_LF_EXPECTED',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_RES_EXCEEDED_MAX_SIZE',
  'UND_ERR_INFO',
])

/**
 * The kind of a transport error, from its `code` (node's socket errors, undici's and llhttp's
 * codes, `RBEE_UPSTREAM` from the queen's own response parser), its class (undici's
 * `HTTPParserError`) or, for errors that carry neither, its message.
 */
export function classifyTransportError(err: unknown): TransportFailureKind {
  const code = (err as { code?: unknown } | null)?.code
  if (code === 'ECONNREFUSED') return 'refused'
  if (typeof code === 'string') {
    if (RESET_CODES.has(code)) return 'reset'
    if (TIMEOUT_CODES.has(code)) return 'timeout'
    if (BAD_RESPONSE_CODES.has(code) || code.startsWith('HPE_')) return 'bad-response'
    if (code === 'RBEE_UPSTREAM') return /closed/.test(errorMessage(err)) ? 'reset' : 'bad-response'
  }
  // undici's llhttp errors carry the parser's code only sometimes; their class always.
  if ((err as { name?: unknown } | null)?.name === 'HTTPParserError') return 'bad-response'
  const message = errorMessage(err)
  if (/closed|ended before/.test(message)) return 'reset'
  if (/timeout|within \d+ ms/i.test(message)) return 'timeout'
  return 'other'
}

/** A failure of the connection itself, classified (see `TRANSPORT_DECISIONS`). */
export function transportFailure(worker: WorkerEntry, err: unknown): WorkerFailure {
  if (err instanceof WorkerFailure) return err
  const code = (err as { code?: unknown } | null)?.code
  const kind = classifyTransportError(err)
  return new WorkerFailure(
    worker.id,
    `worker ${worker.id} at ${worker.url} failed (${kind}): ${typeof code === 'string' ? `${code} ` : ''}${errorMessage(err)}`,
    { ...TRANSPORT_DECISIONS[kind], cause: err, status: 502 },
  )
}

/**
 * The error for a worker's non-2xx answer: 5xx becomes a retryable `WorkerFailure` (busy,
 * loading and draining workers are not quarantined), 4xx and a deadline the worker's own error
 * (the request itself is wrong, or its time is up: nothing to retry).
 */
export function failureFrom(
  worker: WorkerEntry,
  statusCode: number,
  headers: Record<string, string | string[] | undefined>,
  text: string,
): RbeeError {
  const e = errorFromResponse(statusCode, headers, text, `worker ${worker.id}`)
  if (statusCode < 500 || e.code === 'RBEE_DEADLINE_EXCEEDED') return e
  const transient = e.code === 'RBEE_BUSY' || e.code === 'RBEE_NOT_READY' || e.code === 'RBEE_DRAINING'
  return new WorkerFailure(worker.id, `worker ${worker.id} answered ${statusCode}: ${e.message}`, {
    retryable: true,
    quarantine: !transient,
    status: 502,
    cause: e,
  })
}
