import { RbeeError } from '@rbee/common'

/**
 * Bounds the inference requests one API key has queued or running at once, so one client (or
 * one that abandons its requests) cannot fill every model's queue for everyone else. Requests
 * without a key (keys off) are not counted.
 */
export class KeyLimiter {
  readonly #limit: number
  readonly #inFlight = new Map<string, number>()

  /** @param limit - requests per key; 0 means no limit */
  constructor(limit: number) {
    this.#limit = limit
  }

  /**
   * Takes one place for `key`; call the returned function exactly once when the request ends.
   * @throws RbeeError `RBEE_QUEUE_FULL` (429) when the key already has `limit` requests.
   */
  acquire(key: string | null): () => void {
    if (key === null || this.#limit === 0) return () => {}
    const n = this.#inFlight.get(key) ?? 0
    if (n >= this.#limit) {
      throw new RbeeError(
        'RBEE_QUEUE_FULL',
        `this API key already has ${n} requests queued or running (the limit per key is ${this.#limit}); retry when one ends`,
        { retryAfterS: 1 },
      )
    }
    this.#inFlight.set(key, n + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      const left = (this.#inFlight.get(key) ?? 1) - 1
      if (left <= 0) this.#inFlight.delete(key)
      else this.#inFlight.set(key, left)
    }
  }
}
