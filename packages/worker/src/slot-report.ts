import type { WorkerStatus } from '@rbee/contracts'

export interface SlotUse {
  status: WorkerStatus
  slots_busy: number
}

/**
 * Tells the worker's parent how many slots are busy: a change is sent at once when the last send
 * is at least `gapMs` old, otherwise once the gap has passed, with the value of that moment. So a
 * worker under load sends at most one report per gap and the last one is always current.
 */
export class SlotReport {
  readonly #gapMs: number
  readonly #read: () => SlotUse
  readonly #send: (use: SlotUse) => void
  readonly #now: () => number
  #timer: NodeJS.Timeout | undefined
  #lastKey = ''
  #lastAt = Number.NEGATIVE_INFINITY
  #closed = false

  constructor(options: {
    gapMs: number
    read: () => SlotUse
    send: (use: SlotUse) => void
    /** Milliseconds, monotonic. @default performance.now */
    now?: () => number
  }) {
    this.#gapMs = options.gapMs
    this.#read = options.read
    this.#send = options.send
    this.#now = options.now ?? (() => performance.now())
  }

  /** Slot use may have changed. */
  changed(): void {
    if (this.#closed || this.#timer) return
    const wait = this.#lastAt + this.#gapMs - this.#now()
    if (wait <= 0) {
      this.#flush()
      return
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.#flush()
    }, wait)
    this.#timer.unref()
  }

  #flush(): void {
    const use = this.#read()
    const key = `${use.status}/${use.slots_busy}`
    if (key === this.#lastKey) return
    this.#lastKey = key
    this.#lastAt = this.#now()
    this.#send(use)
  }

  close(): void {
    this.#closed = true
    clearTimeout(this.#timer)
  }
}
