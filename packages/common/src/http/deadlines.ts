import type { ServerOptions } from 'node:http'

/**
 * Longest a client may take to send a request head, from its first byte to the blank line
 * after the headers; then it gets a 408 and the connection closes. Without it a client that
 * sends a byte now and then holds a connection (and its buffers) forever.
 */
export const HEADERS_DEADLINE_MS = 10_000

/**
 * Longest a client may take to send a request body once the head is in; then 408 and close.
 * (node:http holds the whole request to `HEADERS_DEADLINE_MS + BODY_DEADLINE_MS` from its first
 * byte, which gives the body at least this long; the queen's fast lane counts it from the head.)
 */
export const BODY_DEADLINE_MS = 60_000

/** How long a request may take to arrive. Answers, streamed or not, are not limited. */
export interface RequestDeadlines {
  /** @default HEADERS_DEADLINE_MS */
  headersMs: number
  /** @default BODY_DEADLINE_MS */
  bodyMs: number
}

/** The deadlines with the defaults filled in (tests give short ones). */
export function requestDeadlines(given: Partial<RequestDeadlines> = {}): RequestDeadlines {
  return { headersMs: given.headersMs ?? HEADERS_DEADLINE_MS, bodyMs: given.bodyMs ?? BODY_DEADLINE_MS }
}

/**
 * The fastify options that make node:http enforce the deadlines. Node checks them on a timer
 * (`connectionsCheckingInterval`, 30 s by default, which would let a 10 s deadline run to 40 s),
 * so the check runs at a quarter of the shorter deadline, at most every second. fastify's own
 * default `requestTimeout` of 0 turns node's request deadline off; it is set here.
 */
export function deadlineServerOptions(d: RequestDeadlines): {
  requestTimeout: number
  http: ServerOptions
} {
  return {
    requestTimeout: d.headersMs + d.bodyMs,
    http: {
      headersTimeout: d.headersMs,
      connectionsCheckingInterval: Math.max(
        10,
        Math.min(1000, Math.floor(Math.min(d.headersMs, d.bodyMs) / 4)),
      ),
    },
  }
}
