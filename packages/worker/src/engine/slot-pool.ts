import { RbeeError } from '@rbee/common'

interface Waiter {
  resolve: (slot: number) => void
  reject: (err: unknown) => void
  timer: NodeJS.Timeout
}

/**
 * A fixed set of slots (context sequences). `acquire` takes a free one, or waits up to
 * `maxWaitMs` in arrival order, then fails with `RBEE_BUSY` (HTTP 503 + Retry-After).
 */
export class SlotPool {
  readonly size: number
  readonly #free: number[]
  readonly #waiters: Waiter[] = []
  readonly #maxWaitMs: number
  readonly #onChange: () => void
  #closed = false

  constructor(size: number, maxWaitMs: number, onChange: () => void = () => {}) {
    this.size = size
    this.#free = Array.from({ length: size }, (_, i) => i)
    this.#maxWaitMs = maxWaitMs
    this.#onChange = onChange
  }

  get busy(): number {
    return this.size - this.#free.length
  }

  get waiting(): number {
    return this.#waiters.length
  }

  acquire(signal?: AbortSignal): Promise<number> {
    if (this.#closed) return Promise.reject(new RbeeError('RBEE_DRAINING', 'worker is shutting down'))
    const slot = this.#free.shift()
    if (slot !== undefined) {
      this.#onChange()
      return Promise.resolve(slot)
    }
    return new Promise<number>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: (s) => {
          signal?.removeEventListener('abort', onAbort)
          resolve(s)
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort)
          reject(e)
        },
        timer: setTimeout(() => {
          this.#remove(waiter)
          waiter.reject(
            new RbeeError('RBEE_BUSY', `all ${this.size} slots are busy; retry shortly`, { retryAfterS: 1 }),
          )
        }, this.#maxWaitMs),
      }
      const onAbort = (): void => {
        this.#remove(waiter)
        waiter.reject(new RbeeError('RBEE_CANCELLED', 'request cancelled while waiting for a slot'))
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#waiters.push(waiter)
    })
  }

  release(slot: number): void {
    const next = this.#waiters.shift()
    if (next) {
      clearTimeout(next.timer)
      next.resolve(slot)
      return
    }
    this.#free.push(slot)
    this.#free.sort((a, b) => a - b)
    this.#onChange()
  }

  /** Fails every waiter and refuses new acquisitions. */
  close(): void {
    this.#closed = true
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer)
      w.reject(new RbeeError('RBEE_DRAINING', 'worker is shutting down'))
    }
  }

  #remove(w: Waiter): void {
    clearTimeout(w.timer)
    const i = this.#waiters.indexOf(w)
    if (i >= 0) this.#waiters.splice(i, 1)
  }
}
