// Follows the queen's fleet stream (`GET /v1/heartbeats/stream?snapshot=1`) with the user's key,
// reconnecting with backoff, and hands each parsed event on. No polling: every change arrives as
// an event (hive telemetry every second, worker changes at once).
import { type QueenStreamEvent, QueenStreamEventSchema } from '@rbee/contracts'
import { api } from './session'
import { readSse } from './sse'

export type FeedState =
  | { status: 'connecting' }
  | { status: 'live' }
  | { status: 'lost'; reason: string; retryInMs: number }

export interface FleetFeedHandlers {
  onEvent: (event: QueenStreamEvent) => void
  /** An event the page cannot read (a newer queen?): shown, never silently dropped. */
  onBadEvent: (why: string) => void
  onState: (state: FeedState) => void
  /** The queen refused the key (401/403): reconnecting cannot help. */
  onRefused: (message: string) => void
}

const FIRST_RETRY_MS = 250
const MAX_RETRY_MS = 30_000
/** A stream that lasted this long resets the backoff. */
const STEADY_MS = 10_000

/** Starts following; the returned function stops (and aborts the open request). */
export function followFleet(handlers: FleetFeedHandlers): () => void {
  const ac = new AbortController()
  let retryMs = FIRST_RETRY_MS
  let timer: ReturnType<typeof setTimeout> | undefined

  const connect = async (): Promise<void> => {
    handlers.onState({ status: 'connecting' })
    try {
      const res = await api('/v1/heartbeats/stream?snapshot=1', { signal: ac.signal })
      handlers.onState({ status: 'live' })
      // The backoff starts over only once a stream has lasted: one accepted and then dropped at
      // once (a slow reader cut off, a proxy's idle timeout) keeps backing off instead of asking
      // the queen for a whole fleet snapshot four times a second.
      const steady = setTimeout(() => {
        retryMs = FIRST_RETRY_MS
      }, STEADY_MS)
      try {
        for await (const m of readSse(res.body!)) {
          const parsed = parseEvent(m.data)
          if (typeof parsed === 'string') handlers.onBadEvent(`${m.event}: ${parsed}`)
          else handlers.onEvent(parsed)
        }
      } finally {
        clearTimeout(steady)
      }
      throw new Error('the queen closed the stream')
    } catch (err) {
      if (ac.signal.aborted) return
      const e = err as { status?: number; message?: string }
      if (e.status === 401 || e.status === 403) {
        handlers.onRefused(e.message ?? 'refused')
        return
      }
      // Jitter keeps many tabs from reconnecting in step after a queen restart.
      const wait = Math.round(retryMs * (0.75 + Math.random() * 0.5))
      handlers.onState({ status: 'lost', reason: e.message ?? String(err), retryInMs: wait })
      retryMs = Math.min(MAX_RETRY_MS, retryMs * 2)
      timer = setTimeout(() => void connect(), wait)
    }
  }
  void connect()
  return () => {
    ac.abort()
    if (timer) clearTimeout(timer)
  }
}

/** The event, or why it cannot be read. */
function parseEvent(data: string): QueenStreamEvent | string {
  let json: unknown
  try {
    json = JSON.parse(data)
  } catch {
    return 'not JSON'
  }
  const parsed = QueenStreamEventSchema.safeParse(json)
  return parsed.success
    ? parsed.data
    : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')
}
