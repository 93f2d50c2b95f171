import { z } from 'zod'
import { IdSchema, TimestampSchema } from './common.js'

/** `POST /v1/jobs` answer: the job has started; follow it at `sse_url`. */
export const JobCreatedSchema = z.object({ job_id: IdSchema, sse_url: z.string() })
export type JobCreated = z.infer<typeof JobCreatedSchema>

export const JobStateSchema = z.enum(['running', 'done', 'error', 'cancelled'])
export type JobState = z.infer<typeof JobStateSchema>

/** `GET /v1/jobs/{id}`, and one entry of `GET /v1/jobs`. */
export const JobSummarySchema = z.object({
  job_id: IdSchema,
  /** The operation it runs (`model_download`, …); null for jobs started without one. */
  operation: z.string().nullable(),
  state: JobStateSchema,
  created_at: TimestampSchema,
  finished_at: TimestampSchema.nullable(),
  error: z.string().nullable(),
})
export type JobSummary = z.infer<typeof JobSummarySchema>

/** `GET /v1/jobs` on the queen: the caller's recent jobs (an admin's: everyone's), newest first. */
export const JobListSchema = z.object({ jobs: z.array(JobSummarySchema) })
export type JobList = z.infer<typeof JobListSchema>

/**
 * A transfer's figures (a download's), for clients that draw their own progress from them (the
 * queen's Ollama `/api/pull` lines).
 */
export const TransferSchema = z.object({
  /** The file, as its source names it. */
  file: z.string().max(1024),
  /** The sha256 (hex) the source announces for the bytes; null when it gives none. */
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .nullable(),
  /** Bytes on disk so far (resumed bytes included). */
  completed: z.int().min(0),
  /** The file's size; null when the source does not say. */
  total: z.int().min(0).nullable(),
})
export type Transfer = z.infer<typeof TransferSchema>

/** Human-readable progress. */
export const NarrationSchema = z.object({
  actor: z.string(),
  action: z.string(),
  human: z.string(),
  job_id: IdSchema,
  ts: TimestampSchema,
  /** Optional machine-readable progress (0..1), e.g. for a download's progress bar. */
  progress: z.number().min(0).max(1).optional(),
  transfer: TransferSchema.optional(),
})
export type Narration = z.infer<typeof NarrationSchema>

/** Structured results. */
export const JobDataSchema = z.object({ action: z.string(), payload: z.unknown() })
export type JobData = z.infer<typeof JobDataSchema>

export const JobTokenSchema = z.object({ t: z.string(), i: z.int().min(0) })
export type JobToken = z.infer<typeof JobTokenSchema>

/** Terminal markers, sent as the `data:` of a final `end` event. */
export const JOB_DONE = '[DONE]'
export const JOB_CANCELLED = '[CANCELLED]'
export const JOB_ERROR_PREFIX = '[ERROR] '

/** A job stream event after parsing; `end` is the one terminal event. */
export type JobStreamEvent =
  | { kind: 'narration'; id: number; narration: Narration }
  | { kind: 'data'; id: number; data: JobData }
  | { kind: 'token'; id: number; token: JobToken }
  | { kind: 'end'; id: number; outcome: 'done' | 'cancelled' | 'error'; message: string | null }

/** SSE event names used on job streams. */
export const JobEventNameSchema = z.enum(['narration', 'data', 'token', 'end'])
export type JobEventName = z.infer<typeof JobEventNameSchema>

/**
 * Encodes the terminal marker of a job. An error message is folded onto one line: SSE ends a
 * line at CR, LF or CRLF, so any of them would cut the marker short.
 */
export function endMarker(outcome: 'done' | 'cancelled' | 'error', message?: string): string {
  if (outcome === 'done') return JOB_DONE
  if (outcome === 'cancelled') return JOB_CANCELLED
  return `${JOB_ERROR_PREFIX}${(message ?? 'failed').replace(/\s*[\r\n]\s*/g, ' ')}`
}

/**
 * Parses one SSE frame of a job stream (`event`, `id`, `data`) into a typed event.
 * @throws ZodError (or Error) when the frame does not follow the contract.
 */
export function parseJobFrame(event: string, id: number, data: string): JobStreamEvent {
  const name = JobEventNameSchema.parse(event)
  switch (name) {
    case 'narration':
      return { kind: 'narration', id, narration: NarrationSchema.parse(JSON.parse(data)) }
    case 'data':
      return { kind: 'data', id, data: JobDataSchema.parse(JSON.parse(data)) }
    case 'token':
      return { kind: 'token', id, token: JobTokenSchema.parse(JSON.parse(data)) }
    case 'end': {
      if (data === JOB_DONE) return { kind: 'end', id, outcome: 'done', message: null }
      if (data === JOB_CANCELLED) return { kind: 'end', id, outcome: 'cancelled', message: null }
      if (data.startsWith(JOB_ERROR_PREFIX)) {
        return { kind: 'end', id, outcome: 'error', message: data.slice(JOB_ERROR_PREFIX.length) }
      }
      throw new Error(`unknown job terminal marker: ${data.slice(0, 80)}`)
    }
  }
}
