/**
 * Whether writing output while the next token is computed pays: only when a core is left for it.
 * With llama.cpp's threads on every core, the write takes a core from a compute thread, and the
 * others wait for it at the next barrier (2 threads on 2 cores, streamed, c=1: 0.75–0.81 of
 * llama-server's throughput overlapped, 0.84–0.86 written at once; bench/RESULTS.md).
 * @param threads - llama.cpp's CPU threads (0 = every core); `gpu` when the model runs on a GPU.
 */
export function overlapsOutput(threads: number, cores: number, gpu: boolean): boolean {
  return gpu || (threads > 0 && threads < cores)
}

/**
 * Holds a generation's output callbacks (writing a token to its client) until the next decode
 * step has been dispatched, so the write overlaps with computing the next token instead of
 * delaying it. node-llama-cpp dispatches a decode from a `setImmediate` queued while the token
 * is handled; the flush here is queued one `setImmediate` later, which runs after it. Order is
 * kept (one FIFO for every slot), and `flush()` runs whatever is left at once, e.g. when a
 * generation ends and no decode follows. Constructed with `overlap` false, it runs each callback
 * as it is pushed.
 */
export class OutputQueue {
  readonly #onError: (err: unknown) => void
  readonly #overlap: boolean
  #pending: Array<() => void> = []
  #scheduled = false
  readonly #flush = (): void => this.flush()
  readonly #afterDispatch = (): void => {
    setImmediate(this.#flush)
  }

  /**
   * @param onError - told about a callback that threw (the others still run).
   * @param overlap - hold callbacks until the next decode is dispatched (see {@link overlapsOutput}).
   */
  constructor(onError: (err: unknown) => void, overlap = true) {
    this.#onError = onError
    this.#overlap = overlap
  }

  push(fn: () => void): void {
    if (!this.#overlap) {
      this.#run(fn)
      return
    }
    this.#pending.push(fn)
    if (this.#scheduled) return
    this.#scheduled = true
    setImmediate(this.#afterDispatch)
  }

  /** Runs every held callback now, in order. */
  flush(): void {
    this.#scheduled = false
    const run = this.#pending
    if (run.length === 0) return
    this.#pending = []
    for (const fn of run) this.#run(fn)
  }

  #run(fn: () => void): void {
    try {
      fn()
    } catch (err) {
      this.#onError(err)
    }
  }
}
