import type { WorkerLiveness } from '@rbee/contracts'
import type { WorkerEntry } from '../registry/worker-entry.js'
import { WorkerFailure } from '../transport/worker-failure.js'

/** The queen's stall bounds per request, before the worker's measured speed is considered. */
export interface StallSettings {
  /** No first token within this long: the worker is treated as failed (the request moves on). 0 = no bound. */
  firstTokenMs: number
  /** No next token within this long: the stream is ended with `RBEE_WORKER_STALLED`. 0 = no bound. */
  tokenGapMs: number
}

/** Prompt speed assumed of a worker that has not reported its own: a small CPU on a 7B model (tokens/s). */
const ASSUMED_PROMPT_TOKENS_PER_S = 20
/** Characters per prompt token, counted low so a prompt's bound errs long. */
const CHARS_PER_TOKEN = 3
/** A bound is at least this many times what the worker's measured speed leads to expect. */
const MEASURED_SLACK = 5

/** The bounds of one request. */
export interface StallBounds {
  firstTokenMs: number
  tokenGapMs: number
}

/**
 * The bounds for a request of `promptChars` characters (the body's, a little more than the
 * prompt's) on a worker with this liveness signal: the settings, raised to what the prompt needs
 * at the worker's measured prompt speed (5 times it), or at a slow CPU's when it has not reported
 * one; the gap raised to 5 times its measured time per token.
 */
export function stallBounds(
  s: StallSettings,
  promptChars: number,
  liveness: WorkerLiveness | null,
): StallBounds {
  const promptTokens = promptChars / CHARS_PER_TOKEN
  const measured = liveness?.prompt_tokens_per_s ?? null
  const promptMs =
    measured !== null && measured > 0
      ? (MEASURED_SLACK * promptTokens * 1000) / measured
      : (promptTokens * 1000) / ASSUMED_PROMPT_TOKENS_PER_S
  const rate = liveness?.tokens_per_s ?? null
  const gapMs = rate !== null && rate > 0 ? (MEASURED_SLACK * 1000) / rate : 0
  return {
    firstTokenMs: s.firstTokenMs > 0 ? Math.ceil(Math.max(s.firstTokenMs, promptMs)) : 0,
    tokenGapMs: s.tokenGapMs > 0 ? Math.ceil(Math.max(s.tokenGapMs, gapMs)) : 0,
  }
}

/** What a request's relay tells its stall watch. */
export interface TokenProgress {
  /** A token (or any output) reached the queen. Called per chunk: cheap. */
  token(): void
}

/** A watch that watches nothing. */
export const NO_STALL_WATCH: TokenProgress & { close(): void } = { token: () => {}, close: () => {} }

/**
 * Watches one try of a request on `worker`: no first token within `firstTokenMs`, or no token
 * for `tokenGapMs` after one, calls `abort` with a `WorkerFailure` coded `RBEE_WORKER_STALLED`
 * (retryable and quarantining before the first token: the request moves to another worker; after
 * it the relay ends the stream with that error). One timer; `token()` only records the time. A
 * timer that fires late because the queen itself stalled decides after pending I/O was read.
 */
export class StallWatch implements TokenProgress {
  readonly #worker: WorkerEntry
  readonly #bounds: StallBounds
  readonly #abort: (reason: WorkerFailure) => void
  readonly #startedAt = performance.now()
  #lastAt = this.#startedAt
  #tokens = 0
  #timer: NodeJS.Timeout | undefined
  #closed = false

  constructor(worker: WorkerEntry, bounds: StallBounds, abort: (reason: WorkerFailure) => void) {
    this.#worker = worker
    this.#bounds = bounds
    this.#abort = abort
    if (bounds.firstTokenMs > 0) this.#arm(bounds.firstTokenMs)
  }

  token(): void {
    this.#lastAt = performance.now()
    if (this.#tokens++ === 0) {
      // From the first token on, the (usually shorter) gap bound applies.
      clearTimeout(this.#timer)
      this.#timer = undefined
      if (this.#bounds.tokenGapMs > 0 && !this.#closed) this.#arm(this.#bounds.tokenGapMs)
    }
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => setImmediate(() => this.#check()), ms)
    this.#timer.unref()
  }

  #check(): void {
    if (this.#closed) return
    const first = this.#tokens === 0
    const limit = first ? this.#bounds.firstTokenMs : this.#bounds.tokenGapMs
    const quiet = performance.now() - this.#lastAt
    if (quiet < limit) {
      this.#arm(limit - quiet)
      return
    }
    this.#closed = true
    const id = this.#worker.id
    const ms = Math.round(quiet)
    this.#abort(
      new WorkerFailure(
        id,
        first
          ? `worker ${id} sent no first token within ${ms} ms (bound ${limit} ms)`
          : `worker ${id} sent no token for ${ms} ms after its first (bound ${limit} ms)`,
        { retryable: first, quarantine: true, status: 504, code: 'RBEE_WORKER_STALLED' },
      ),
    )
  }

  close(): void {
    this.#closed = true
    clearTimeout(this.#timer)
  }
}
