import { Backoff, type BackoffOptions, errorMessage, parseJson, readSse } from '@rbee/common/base'
import { describeIssues } from '@rbee/contracts'
import type { z } from 'zod'
import type { HttpClient } from './http-client.js'

export interface EventSubscriptionOptions<S extends z.ZodType> {
  http: HttpClient
  /** Path of the SSE endpoint, e.g. `/v1/heartbeats/stream`. */
  path: string
  /** Each event's data is parsed with this schema. */
  schema: S
  onEvent: (event: z.output<S>) => void
  /** The stream is open (first connect and every reconnect). */
  onConnect?: () => void
  /** The stream dropped, failed to open, or went quiet; a reconnect follows unless closed. */
  onDisconnect?: (reason: string) => void
  /** An event that broke the contract (it is skipped). */
  onInvalid?: (reason: string) => void
  /**
   * Nothing received (not even a keep-alive) for this long counts as a dropped stream and the
   * connection is replaced. 0 disables. @default 0
   */
  idleTimeoutMs?: number
  /**
   * Longest wait for a connection attempt to be answered (the stream's response head); the
   * attempt is then given up and the next one follows. @default `idleTimeoutMs`
   */
  connectTimeoutMs?: number
  /** Anything arrived on the open stream (keep-alives included); called per chunk, keep it cheap. */
  onActivity?: () => void
  /** Delay between reconnects. @default { initialMs: 250, maxMs: 5000, jitter: 0.3 } */
  backoff?: BackoffOptions
}

/**
 * A long-lived subscription to an SSE event stream (a hive's or the queen's heartbeat stream):
 * every event validated with the contract schema, reconnects with exponential backoff and jitter
 * (reset once a connection delivers an event), an optional idle timeout. `close()` ends it.
 */
export class EventSubscription<S extends z.ZodType> {
  readonly #o: EventSubscriptionOptions<S>
  readonly #ac = new AbortController()
  readonly #backoff: Backoff
  #running: Promise<void> | undefined
  #connected = false
  /** Ends the current backoff wait early. */
  #wake: (() => void) | undefined
  /** Ends the current connection (see `drop`). */
  #drop: ((reason: string) => void) | undefined

  constructor(options: EventSubscriptionOptions<S>) {
    this.#o = options
    this.#backoff = new Backoff(options.backoff ?? { initialMs: 250, maxMs: 5000, jitter: 0.3 })
  }

  /** True while a stream is open. */
  get connected(): boolean {
    return this.#connected
  }

  /** Starts connecting (idempotent). */
  start(): this {
    this.#running ??= this.#loop()
    return this
  }

  async #loop(): Promise<void> {
    const signal = this.#ac.signal
    while (!signal.aborted) {
      const startedAt = performance.now()
      const reason = await this.#once(signal)
      if (signal.aborted) break
      this.#o.onDisconnect?.(reason)
      // The backoff counts from the start of the attempt: one that waited out its idle timeout
      // for a connection (a cut link) is followed by the next at once, not a second later.
      const delay = Math.max(0, this.#backoff.next() - (performance.now() - startedAt))
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(t)
          this.#wake = undefined
          resolve()
        }
        const t = setTimeout(done, delay)
        this.#wake = done
        signal.addEventListener('abort', done, { once: true })
      })
    }
  }

  /** One connection; resolves with why it ended. */
  async #once(outer: AbortSignal): Promise<string> {
    const ac = new AbortController()
    const onAbort = (): void => ac.abort(outer.reason)
    outer.addEventListener('abort', onAbort, { once: true })
    const idleMs = this.#o.idleTimeoutMs ?? 0
    // Until the stream is open, the connect timeout applies; then the idle timeout.
    let limitMs = this.#o.connectTimeoutMs ?? idleMs
    let idleTimer: NodeJS.Timeout | undefined
    let idleFired = false
    let dropped: string | undefined
    let ended = false
    let lastDataAt = performance.now()
    // After this process itself stalled, timers run before the socket data that arrived in the
    // meantime is read: the check waits one turn of the event loop (that data is read first),
    // then decides on the time since the last byte.
    const check = (): void => {
      setImmediate(() => {
        if (ended) return
        const quiet = performance.now() - lastDataAt
        if (quiet >= limitMs) {
          idleFired = true
          ac.abort(new Error('idle'))
          return
        }
        idleTimer = setTimeout(check, limitMs - quiet)
        idleTimer.unref()
      })
    }
    const arm = (): void => {
      if (limitMs <= 0) return
      lastDataAt = performance.now()
      if (!idleTimer) {
        idleTimer = setTimeout(check, limitMs)
        idleTimer.unref()
      }
    }
    const onActivity = this.#o.onActivity
    const alive = onActivity
      ? (): void => {
          arm()
          onActivity()
        }
      : arm
    this.#drop = (reason) => {
      dropped ??= reason
      ac.abort(new Error(reason))
    }
    try {
      arm()
      const res = await this.#o.http.stream('GET', this.#o.path, { signal: ac.signal })
      this.#connected = true
      if (idleMs !== limitMs) {
        clearTimeout(idleTimer)
        idleTimer = undefined
        limitMs = idleMs
      }
      arm()
      this.#o.onConnect?.()
      try {
        // Keep-alive comments count as life: they prove the peer and the path are up.
        const body = tap(res.body, alive)
        for await (const msg of readSse(body)) {
          let data: unknown
          try {
            data = parseJson(msg.data)
          } catch (err) {
            this.#o.onInvalid?.(`${msg.event}: data is not JSON rbee takes: ${errorMessage(err)}`)
            continue
          }
          const parsed = this.#o.schema.safeParse(data)
          if (!parsed.success) {
            this.#o.onInvalid?.(`${msg.event}: ${describeIssues(parsed.error)}`)
            continue
          }
          this.#backoff.reset()
          this.#o.onEvent(parsed.data)
        }
        return 'stream ended'
      } finally {
        res.body.destroy()
      }
    } catch (err) {
      if (dropped !== undefined) return dropped
      if (idleFired)
        return this.#connected ? `nothing received for ${limitMs} ms` : `no answer within ${limitMs} ms`
      return errorMessage(err)
    } finally {
      ended = true
      this.#drop = undefined
      this.#connected = false
      if (idleTimer) clearTimeout(idleTimer)
      outer.removeEventListener('abort', onAbort)
    }
  }

  /**
   * Ends the current connection as if it had dropped: `onDisconnect(reason)`, then a reconnect
   * after the backoff. Does nothing while not connecting or connected (e.g. the owner found the
   * peer's host unreachable while the stream was quiet).
   */
  drop(reason: string): void {
    this.#drop?.(reason)
  }

  /**
   * Reconnects at once if it is waiting out a backoff (the peer said it is back); does nothing
   * while connected.
   */
  reconnectNow(): void {
    this.#backoff.reset()
    this.#wake?.()
  }

  /** Stops the subscription and waits for its connection to close. Idempotent. */
  async close(): Promise<void> {
    this.#ac.abort(new Error('subscription closed'))
    await this.#running
  }
}

async function* tap(body: AsyncIterable<Uint8Array>, onChunk: () => void): AsyncGenerator<Uint8Array> {
  for await (const chunk of body) {
    onChunk()
    yield chunk
  }
}
