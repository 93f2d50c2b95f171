import type { WorkerLiveness } from '@rbee/contracts'
import type { GenerationResult } from './engine/engine.js'

/** How often the event loop's lateness is sampled. */
const LAG_SAMPLE_MS = 500
/** Weight of the newest request in the smoothed speeds. */
const SPEED_WEIGHT = 0.3

/**
 * The worker's own liveness signal for its heartbeats: the longest event-loop delay since the
 * last report (a timer that fires late says by how much) and the smoothed prompt and generation
 * speeds of finished requests. One unref'd timer, two wake-ups a second; `close()` clears it.
 */
export class LivenessMeter {
  readonly #timer: NodeJS.Timeout
  #expected: number
  #maxLagMs = 0
  #promptRate: number | null = null
  #genRate: number | null = null

  constructor() {
    this.#expected = performance.now() + LAG_SAMPLE_MS
    this.#timer = setInterval(() => {
      const now = performance.now()
      this.#maxLagMs = Math.max(this.#maxLagMs, now - this.#expected)
      this.#expected = now + LAG_SAMPLE_MS
    }, LAG_SAMPLE_MS)
    this.#timer.unref()
  }

  /** Counts a finished generation's speeds (requests too short to time are skipped). */
  finished(r: GenerationResult): void {
    if (r.promptTokens > 0 && r.promptMs > 0)
      this.#promptRate = smooth(this.#promptRate, (r.promptTokens * 1000) / r.promptMs)
    if (r.tokensOut > 1 && r.generationMs > 0)
      this.#genRate = smooth(this.#genRate, ((r.tokensOut - 1) * 1000) / r.generationMs)
  }

  /** The signal to send now; the lag restarts from here. */
  report(): WorkerLiveness {
    // A timer still pending past its time counts too: the loop is late right now.
    const lag = Math.max(this.#maxLagMs, performance.now() - this.#expected, 0)
    this.#maxLagMs = 0
    return {
      event_loop_lag_ms: Math.round(lag),
      prompt_tokens_per_s: this.#promptRate,
      tokens_per_s: this.#genRate,
    }
  }

  close(): void {
    clearInterval(this.#timer)
  }
}

function smooth(prev: number | null, next: number): number {
  return prev === null ? next : prev + SPEED_WEIGHT * (next - prev)
}
