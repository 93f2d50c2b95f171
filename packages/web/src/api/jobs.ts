// The queen's jobs API from the browser: start an operation, follow its narration stream, cancel.
import {
  JobCreatedSchema,
  type JobData,
  type JobStreamEvent,
  type Narration,
  type Operation,
  parseJobFrame,
} from '@rbee/contracts'
import { api, apiJson } from './session'
import { readSse } from './sse'

export interface JobResult {
  jobId: string
  outcome: 'done' | 'cancelled' | 'error'
  message: string | null
  data: JobData[]
}

export interface JobHandlers {
  /** The job exists (its id is known: it can be cancelled from here on). */
  onStart?: (jobId: string) => void
  onNarration?: (n: Narration) => void
  onData?: (d: JobData) => void
}

/** Starts `op` and follows it to its end. A refusal (401/403/4xx) throws ApiError before any event. */
export async function runJob(
  op: Operation,
  handlers: JobHandlers = {},
  signal?: AbortSignal,
): Promise<JobResult> {
  const created = await apiJson('/v1/jobs', JobCreatedSchema, {
    method: 'POST',
    body: JSON.stringify(op),
    signal,
  })
  handlers.onStart?.(created.job_id)
  const res = await api(`/v1/jobs/${encodeURIComponent(created.job_id)}/stream`, { signal })
  const data: JobData[] = []
  for await (const m of readSse(res.body!)) {
    const e: JobStreamEvent = parseJobFrame(m.event, Number(m.id), m.data)
    if (e.kind === 'narration') handlers.onNarration?.(e.narration)
    else if (e.kind === 'data') {
      data.push(e.data)
      handlers.onData?.(e.data)
    } else if (e.kind === 'end')
      return { jobId: created.job_id, outcome: e.outcome, message: e.message, data }
  }
  return { jobId: created.job_id, outcome: 'error', message: 'the job stream ended without an outcome', data }
}

/** `DELETE /v1/jobs/:id`: the queen stops the work (a download, a generation). */
export async function cancelJob(jobId: string): Promise<void> {
  await api(`/v1/jobs/${encodeURIComponent(jobId)}`, { method: 'DELETE' })
}

/** The payload of the job's data event named `action`, parsed with `schema`. */
export function payloadOf<T>(result: JobResult, action: string, schema: { parse: (v: unknown) => T }): T {
  const d = result.data.find((x) => x.action === action)
  if (!d) throw new Error(`${action}: the job sent no result${result.message ? ` (${result.message})` : ''}`)
  return schema.parse(d.payload)
}
