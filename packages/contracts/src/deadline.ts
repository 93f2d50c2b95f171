import { z } from 'zod'

/**
 * Longest timeout a request or job may ask for: 7 days, so a timer for it stays well inside what
 * `setTimeout` can hold (24.8 days).
 */
export const MAX_TIMEOUT_S = 604_800

/**
 * A request's or job's time limit in seconds (fractions allowed: `2.5`): queue wait, worker
 * spawn and generation all count against it. Past it the work stops and the answer is
 * `RBEE_DEADLINE_EXCEEDED` (504).
 */
export const TimeoutSecondsSchema = z.number().gt(0).max(MAX_TIMEOUT_S)

/**
 * The request header with an absolute deadline: an RFC 3339 time with an offset
 * (`2026-11-27T10:00:30Z`, `…+01:00`) or epoch milliseconds (13 digits: `1795773630000`).
 * A local time without an offset, or epoch seconds, is refused as ambiguous.
 */
export const REQUEST_DEADLINE_HEADER = 'x-request-deadline'

/**
 * The request header with a relative deadline: seconds from the request's arrival (`30`, `2.5`).
 * The queen passes the time that is left to the worker in this header, so the worker enforces the
 * deadline without depending on the two machines' clocks agreeing.
 */
export const REQUEST_TIMEOUT_HEADER = 'x-request-timeout'
