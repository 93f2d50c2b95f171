import type { Activity, ActivityBucket } from '@rbee/contracts'

/** Length of one activity interval. */
export const ACTIVITY_BUCKET_MS = 10_000
/** Intervals kept: 5 minutes. */
export const ACTIVITY_BUCKETS = 30

interface Bucket {
  /** Interval number (`floor(time / ACTIVITY_BUCKET_MS)`); a slot holding an older one is stale. */
  n: number
  requests: number
  errors: number
  cancelled: number
  ttftSumMs: number
  ttftCount: number
  ttftMaxMs: number
  tokens: number
}

const empty = (n: number): Bucket => ({
  n,
  requests: 0,
  errors: 0,
  cancelled: 0,
  ttftSumMs: 0,
  ttftCount: 0,
  ttftMaxMs: 0,
  tokens: 0,
})

/**
 * The queen's recent inference figures for the dashboard's Activity page: a fixed ring of
 * intervals in memory (bounded whatever the traffic), fed where the queen records its metrics.
 */
export class ActivityRing {
  readonly #slots: Bucket[] = Array.from({ length: ACTIVITY_BUCKETS }, () => empty(-1))
  readonly #now: () => number

  constructor(now: () => number = Date.now) {
    this.#now = now
  }

  #bucket(): Bucket {
    const n = Math.floor(this.#now() / ACTIVITY_BUCKET_MS)
    const i = n % ACTIVITY_BUCKETS
    if (this.#slots[i]!.n !== n) this.#slots[i] = empty(n)
    return this.#slots[i]!
  }

  /** A request ended: `ok`, `cancelled`, or anything else (an error), with the tokens it streamed. */
  request(outcome: string, tokens: number): void {
    const b = this.#bucket()
    b.requests++
    if (outcome === 'cancelled') b.cancelled++
    else if (outcome !== 'ok') b.errors++
    b.tokens += tokens
  }

  /** A request's first token went out `ms` after it arrived. */
  firstToken(ms: number): void {
    const b = this.#bucket()
    b.ttftSumMs += ms
    b.ttftCount++
    b.ttftMaxMs = Math.max(b.ttftMaxMs, ms)
  }

  /** Every interval of the last `ACTIVITY_BUCKETS`, oldest first, empty ones included. */
  snapshot(): Activity {
    const last = Math.floor(this.#now() / ACTIVITY_BUCKET_MS)
    const buckets: ActivityBucket[] = []
    for (let n = last - ACTIVITY_BUCKETS + 1; n <= last; n++) {
      const slot = this.#slots[n % ACTIVITY_BUCKETS]!
      const b = slot.n === n ? slot : empty(n)
      buckets.push({
        start: new Date(n * ACTIVITY_BUCKET_MS).toISOString(),
        requests: b.requests,
        errors: b.errors,
        cancelled: b.cancelled,
        ttft_ms_avg: b.ttftCount > 0 ? b.ttftSumMs / b.ttftCount : null,
        ttft_ms_max: b.ttftCount > 0 ? b.ttftMaxMs : null,
        tokens: b.tokens,
        tokens_per_s: b.tokens / (ACTIVITY_BUCKET_MS / 1000),
      })
    }
    return { bucket_s: ACTIVITY_BUCKET_MS / 1000, buckets }
  }
}
