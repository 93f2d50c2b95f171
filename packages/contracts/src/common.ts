import { z } from 'zod'

/** RFC 3339 timestamp with an offset (`2026-11-27T10:00:00.000Z`). */
export const TimestampSchema = z.iso.datetime({ offset: true })

/** A TCP port as reported on the wire; 0 only where "not bound yet" is meaningful. */
export const PortSchema = z.int().min(0).max(65535)

/**
 * Ids of workers, hives, jobs and catalog models: safe in URLs, file names and log lines.
 * Rejects path tricks (`..`, `/`) so an id can never escape a directory.
 */
export const IdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._:@-]*$/,
    'must start with a letter or digit and use only A-Z a-z 0-9 . _ : @ -',
  )
  .refine((s) => !s.includes('..'), 'must not contain ".."')

/** Our error body on every non-OpenAI route: `{ error: { code, message } }`. */
export const ErrorBodySchema = z.object({
  error: z.object({
    code: z.string().regex(/^RBEE_[A-Z0-9_]+$/),
    message: z.string(),
    details: z.unknown().optional(),
    /** Ties a server-side error to the daemon's log line that holds its details. */
    error_id: z.string().max(64).optional(),
  }),
})
export type ErrorBody = z.infer<typeof ErrorBodySchema>

/** `GET /health` on every daemon. */
export const HealthSchema = z.object({
  status: z.enum(['ok', 'draining']),
  service: z.enum(['queen-rbee', 'rbee-hive', 'llm-worker-rbee']),
  version: z.string(),
  uptime_s: z.number().nonnegative(),
})
export type Health = z.infer<typeof HealthSchema>

/**
 * The queen's SSE streams (OpenAI and job streams, `/v1/heartbeats/stream`) carry a keep-alive
 * comment after this long without anything else (default of the queen's `--keep-alive-ms`).
 */
export const STREAM_KEEP_ALIVE_MS = 10_000

/**
 * A client (`@rbee/client`, the CLI) ends a stream that brought nothing, not even a keep-alive,
 * for this long: the server stopped answering. Three keep-alives' worth.
 */
export const STREAM_IDLE_TIMEOUT_MS = 3 * STREAM_KEEP_ALIVE_MS
