import type { RequestDeadlines } from '@rbee/common'

/** What part of a request a lane connection is waiting for. */
export type ArrivalPhase = 'head' | 'body'

/**
 * The deadline of the request a fast-lane connection is reading: its head must be in within
 * `headersMs` of its first byte, its body within `bodyMs` of the end of the head. Bytes that
 * trickle in do not move it (the socket's idle timeout, which they do reset, cannot stop a
 * client that sends a byte now and then).
 */
export class ArrivalDeadline {
  readonly #deadlines: RequestDeadlines
  readonly #onExpired: (phase: ArrivalPhase) => void
  #phase: ArrivalPhase | undefined
  #timer: NodeJS.Timeout | undefined

  constructor(deadlines: RequestDeadlines, onExpired: (phase: ArrivalPhase) => void) {
    this.#deadlines = deadlines
    this.#onExpired = onExpired
  }

  /** A request is partly read and waits for its `phase`: that phase's clock starts unless it runs. */
  waiting(phase: ArrivalPhase): void {
    if (this.#phase === phase) return
    clearTimeout(this.#timer)
    this.#phase = phase
    const ms = phase === 'head' ? this.#deadlines.headersMs : this.#deadlines.bodyMs
    this.#timer = setTimeout(() => {
      this.#phase = undefined
      this.#timer = undefined
      this.#onExpired(phase)
    }, ms)
  }

  /** No request is partly read any more (taken, handed over, or the connection is gone). */
  clear(): void {
    if (this.#timer === undefined) return
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#phase = undefined
  }
}
