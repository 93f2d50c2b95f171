import { MAX_TIMEOUT_S, REQUEST_DEADLINE_HEADER, REQUEST_TIMEOUT_HEADER } from '@rbee/contracts'
import { RbeeError } from './errors.js'

/** Request headers as node:http (lower-case names) or the queen's fast lane hands them over. */
export type HeaderBag = Readonly<Record<string, string | string[] | undefined>>

const SECONDS = /^\d{1,7}(?:\.\d{1,6})?$/
const EPOCH_MS = /^\d{13}$/
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/

/** The headers as users write them, for messages. */
const SHOWN: Record<string, string> = {
  [REQUEST_DEADLINE_HEADER]: 'X-Request-Deadline',
  [REQUEST_TIMEOUT_HEADER]: 'X-Request-Timeout',
}

/** A 400 naming the header (as the field path, so OpenAI's error shape puts it in `param`). */
function headerError(header: string, problem: string): RbeeError {
  const path = SHOWN[header] ?? header
  return new RbeeError('RBEE_VALIDATION', `invalid ${path} header: ${problem}`, {
    details: { issues: [{ path, message: problem }] },
  })
}

/** A header value as shown in a message: bounded, printable. */
function shown(value: string): string {
  const v = value.replace(/[^\x20-\x7e]/g, '?')
  return `'${v.length > 64 ? `${v.slice(0, 64)}…` : v}'`
}

function single(headers: HeaderBag, name: string): string | undefined {
  const v = headers[name]
  if (!Array.isArray(v)) return v?.trim()
  if (v.length > 1) throw headerError(name, 'given more than once')
  return v[0]?.trim()
}

/**
 * A timeout in seconds as written in `X-Request-Timeout` (`30`, `2.5`).
 * @throws RbeeError `RBEE_VALIDATION` naming the header: not a plain decimal, 0, or over 7 days.
 */
export function parseTimeoutSeconds(value: string, header = REQUEST_TIMEOUT_HEADER): number {
  if (!SECONDS.test(value)) {
    throw headerError(header, `${shown(value)} is not a number of seconds (e.g. 30 or 2.5)`)
  }
  const s = Number(value)
  if (s <= 0) throw headerError(header, 'must be more than 0 seconds')
  if (s > MAX_TIMEOUT_S) throw headerError(header, `must be at most ${MAX_TIMEOUT_S} seconds (7 days)`)
  return s
}

/**
 * An absolute deadline as written in `X-Request-Deadline`: RFC 3339 with an offset, or epoch
 * milliseconds (13 digits). A local time without an offset, or epoch seconds, could be read more
 * than one way and is refused.
 * @returns epoch milliseconds.
 * @throws RbeeError `RBEE_VALIDATION` naming the header: malformed, not after `now`, or more than
 * 7 days ahead.
 */
export function parseDeadline(value: string, now = Date.now(), header = REQUEST_DEADLINE_HEADER): number {
  let at = Number.NaN
  if (EPOCH_MS.test(value)) at = Number(value)
  else {
    const m = RFC3339.exec(value.toUpperCase())
    // Date.parse rolls 2026-02-30 over to March; a day the month does not have is malformed.
    if (m && new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))).getUTCDate() === Number(m[3]))
      at = Date.parse(value.toUpperCase())
  }
  if (Number.isNaN(at)) {
    throw headerError(
      header,
      `${shown(value)} is neither an RFC 3339 time with an offset (2026-11-27T10:00:30Z) nor epoch milliseconds (13 digits)`,
    )
  }
  if (at <= now) {
    throw headerError(
      header,
      `${shown(value)} is in the past (the time here is ${new Date(now).toISOString()})`,
    )
  }
  if (at - now > MAX_TIMEOUT_S * 1000) {
    throw headerError(header, `${shown(value)} is more than ${MAX_TIMEOUT_S} seconds (7 days) ahead`)
  }
  return at
}

/** The earliest of the deadlines given (epoch milliseconds); undefined when none is. */
export function earliestDeadline(...ats: ReadonlyArray<number | undefined>): number | undefined {
  let min: number | undefined
  for (const at of ats) if (at !== undefined && (min === undefined || at < min)) min = at
  return min
}

/**
 * The deadline a request's `X-Request-Deadline` and `X-Request-Timeout` headers set (the earlier
 * when both are there), in epoch milliseconds; undefined when neither is.
 * @throws RbeeError `RBEE_VALIDATION` (400) naming the header that is wrong.
 */
export function requestDeadline(headers: HeaderBag, now = Date.now()): number | undefined {
  const deadline = single(headers, REQUEST_DEADLINE_HEADER)
  const timeout = single(headers, REQUEST_TIMEOUT_HEADER)
  return earliestDeadline(
    deadline === undefined ? undefined : parseDeadline(deadline, now),
    timeout === undefined ? undefined : now + parseTimeoutSeconds(timeout) * 1000,
  )
}

/**
 * What is left of a deadline as an `X-Request-Timeout` value (seconds to the millisecond, at
 * least 0.001): how the queen hands a deadline to a worker or a hive without relying on their
 * clocks agreeing with its own.
 */
export function timeoutHeaderValue(at: number, now = Date.now()): string {
  return (Math.max(1, Math.ceil(at - now)) / 1000).toFixed(3)
}

/** What is left of a deadline in seconds (at least 0.001), for a `timeout` field. */
export function remainingSeconds(at: number, now = Date.now()): number {
  return Math.max(1, Math.ceil(at - now)) / 1000
}

/** The error of a request or job whose deadline passed (504, `RBEE_DEADLINE_EXCEEDED`). */
export function deadlineExceeded(message: string): RbeeError {
  return new RbeeError('RBEE_DEADLINE_EXCEEDED', `deadline exceeded: ${message}`)
}

/** True for the error a deadline ends a request or job with. */
export function isDeadlineExceeded(err: unknown): err is RbeeError {
  return err instanceof RbeeError && err.code === 'RBEE_DEADLINE_EXCEEDED'
}
