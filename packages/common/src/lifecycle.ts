/**
 * Owns cleanups: `add` registers one, `close` runs them all once, last added first, and never
 * throws (a failing cleanup must not leave the others undone). Idempotent.
 */
export class Closer {
  #fns: Array<() => unknown> = []
  #closing: Promise<void> | undefined

  /** Registers a cleanup; if already closing, it runs at once. */
  add(fn: () => unknown): void {
    if (this.#closing) {
      void Promise.resolve()
        .then(fn)
        .catch(() => {})
      return
    }
    this.#fns.push(fn)
  }

  get closed(): boolean {
    return this.#closing !== undefined
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const fn of this.#fns.reverse()) {
        try {
          await fn()
        } catch {
          // A cleanup that fails must not stop the others.
        }
      }
      this.#fns = []
    })()
    return this.#closing
  }
}

/** Resolves after `ms`, or rejects with the signal's reason when aborted. The timer is unref'd. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason)
      return
    }
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    t.unref()
    const onAbort = (): void => {
      clearTimeout(t)
      reject(signal?.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

export interface BackoffOptions {
  /** @default 200 */
  initialMs?: number
  /** @default 10_000 */
  maxMs?: number
  /** @default 2 */
  factor?: number
  /** Fraction of each delay that is randomised, 0..1. @default 0.2 */
  jitter?: number
}

/** Exponential backoff with jitter: `next()` gives the next delay, `reset()` starts over. */
export class Backoff {
  readonly #initial: number
  readonly #max: number
  readonly #factor: number
  readonly #jitter: number
  #attempt = 0

  constructor(options: BackoffOptions = {}) {
    this.#initial = options.initialMs ?? 200
    this.#max = options.maxMs ?? 10_000
    this.#factor = options.factor ?? 2
    this.#jitter = options.jitter ?? 0.2
  }

  get attempt(): number {
    return this.#attempt
  }

  next(): number {
    const base = Math.min(this.#max, this.#initial * this.#factor ** this.#attempt)
    this.#attempt++
    const spread = base * this.#jitter
    return Math.max(0, Math.round(base - spread + Math.random() * 2 * spread))
  }

  reset(): void {
    this.#attempt = 0
  }
}

/** A promise with its resolve/reject exposed. */
export function deferred<T>(): {
  promise: Promise<T>
  resolve: (v: T) => void
  reject: (e: unknown) => void
} {
  let resolve!: (v: T) => void
  let reject!: (e: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/**
 * The message a daemon logs when a reload (SIGHUP) is over; what `rbee queen reload` waits for
 * in the queen's log.
 */
export const RELOAD_DONE = 'reload done'

/**
 * Runs `task` one at a time: a call while it runs asks for one more run after it (calls in
 * between coalesce), so a burst of SIGHUPs reloads once more, never twice at the same time.
 * `task` must not throw (it logs its own failures). Returns the trigger.
 */
export function serialized(task: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined
  let again = false
  const run = (): Promise<void> => {
    if (running) {
      again = true
      return running
    }
    running = (async () => {
      do {
        again = false
        await task().catch(() => {})
      } while (again)
    })().finally(() => {
      running = undefined
    })
    return running
  }
  return run
}
