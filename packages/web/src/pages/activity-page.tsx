import {
  type Activity,
  ActivitySchema,
  JobListSchema,
  type JobSummary,
  type Narration,
  parseJobFrame,
} from '@rbee/contracts'
import { useEffect, useState } from 'preact/hooks'
import { api, apiJson } from '../api/session'
import { readSse } from '../api/sse'
import { DataTable } from '../ui/data-table'
import { SparkChart } from '../ui/spark-chart'

/** How often the page reads the queen's figures: they change once per interval (10 s). */
const REFRESH_MS = 10_000

/** Request rate, time to first token and tokens/s over the last minutes; recent jobs and their narration. */
export function ActivityPage() {
  const [activity, setActivity] = useState<Activity | null>(null)
  const [jobs, setJobs] = useState<JobSummary[] | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [open, setOpen] = useState<string | null>(null)
  const load = async () => {
    try {
      const [a, j] = await Promise.all([
        apiJson('/v1/activity', ActivitySchema),
        apiJson('/v1/jobs', JobListSchema),
      ])
      setActivity(a)
      setJobs(j.jobs)
      setError(null)
    } catch (err) {
      setError((err as Error).message)
    }
  }
  useEffect(() => {
    void load()
    const t = setInterval(() => void load(), REFRESH_MS)
    return () => clearInterval(t)
  }, [])
  const b = activity?.buckets ?? []
  const per = activity?.bucket_s ?? 10
  return (
    <main>
      <h1>Activity</h1>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <p class="muted">
        The last {Math.round((b.length * per) / 60)} minutes, per {per} s (the queen's own figures; the last
        interval is still filling).{' '}
        <button type="button" class="link" onClick={() => void load()}>
          Refresh
        </button>
      </p>
      {activity && (
        <div class="charts">
          <SparkChart title="Requests" unit="req/s" digits={2} values={b.map((x) => x.requests / per)} />
          <SparkChart title="Time to first token" unit="ms" digits={0} values={b.map((x) => x.ttft_ms_avg)} />
          <SparkChart title="Tokens" unit="tok/s" values={b.map((x) => x.tokens_per_s)} />
        </div>
      )}
      <h2>Recent jobs</h2>
      {jobs === null ? (
        <p class="muted">Loading…</p>
      ) : jobs.length === 0 ? (
        <p class="muted">No jobs in the last minutes.</p>
      ) : (
        <DataTable columns={['Job', 'Operation', 'State', 'Started', 'Error', '']}>
          {jobs.map((j) => (
            <>
              <tr data-job={j.job_id}>
                <td>
                  <code>{j.job_id.slice(0, 8)}</code>
                </td>
                <td>{j.operation ?? '–'}</td>
                <td>
                  <span class={`badge badge-${j.state === 'done' ? 'ready' : j.state}`}>{j.state}</span>
                </td>
                <td>{new Date(j.created_at).toLocaleTimeString()}</td>
                <td class="error">{j.error ?? ''}</td>
                <td>
                  <button
                    type="button"
                    class="secondary"
                    aria-expanded={open === j.job_id}
                    aria-label={`Narration of ${j.operation ?? 'job'} ${j.job_id.slice(0, 8)}`}
                    onClick={() => setOpen(open === j.job_id ? null : j.job_id)}
                  >
                    Narration
                  </button>
                </td>
              </tr>
              {open === j.job_id && (
                <tr>
                  <td colSpan={6}>
                    <JobNarration jobId={j.job_id} />
                  </td>
                </tr>
              )}
            </>
          ))}
        </DataTable>
      )}
    </main>
  )
}

/** A job's narration, replayed from the queen's buffer (and followed while it runs). */
function JobNarration(props: { jobId: string }) {
  const [lines, setLines] = useState<Narration[]>([])
  const [end, setEnd] = useState<string | null>(null)
  useEffect(() => {
    const ac = new AbortController()
    void (async () => {
      try {
        const res = await api(`/v1/jobs/${encodeURIComponent(props.jobId)}/stream`, { signal: ac.signal })
        const seen: Narration[] = []
        for await (const m of readSse(res.body!)) {
          const e = parseJobFrame(m.event, Number(m.id), m.data)
          if (e.kind === 'narration') {
            seen.push(e.narration)
            setLines([...seen.slice(-200)])
          } else if (e.kind === 'end') setEnd(e.outcome + (e.message ? `: ${e.message}` : ''))
        }
      } catch (err) {
        if (!ac.signal.aborted) setEnd(`could not read: ${(err as Error).message}`)
      }
    })()
    return () => ac.abort()
  }, [props.jobId])
  return (
    <div>
      <ol class="narration">
        {lines.map((n) => (
          <li>
            <span class="muted">{new Date(n.ts).toLocaleTimeString()}</span> {n.human}
          </li>
        ))}
      </ol>
      {end && <p class="muted">Ended: {end}</p>}
    </div>
  )
}
