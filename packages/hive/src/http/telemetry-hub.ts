import type { ServerResponse } from 'node:http'
import { errorMessage, type Logger, SseWriter } from '@rbee/common'
import { type HiveStreamEvent, hiveStreamPingMs } from '@rbee/contracts'

type TelemetryEvent = Extract<HiveStreamEvent, { type: 'telemetry' }>

export interface TelemetryHubOptions {
  logger: Logger
  /** A telemetry event every this often while anyone listens. */
  intervalMs: number
  /** Builds the current telemetry event. */
  snapshot: () => Promise<TelemetryEvent>
  /** A subscriber with more than this waiting in its socket buffer is dropped. @default 1 MiB */
  maxBufferedBytes?: number
  /** A comment on every stream this often, so readers can tell a dead link. @default hiveStreamPingMs(intervalMs) */
  keepAliveMs?: number
}

/**
 * The hive's `GET /v1/heartbeats/stream`: each subscriber gets a telemetry event at once, then
 * one every interval, and every worker event (spawned, ready, exited) the moment it happens. A
 * subscriber that does not keep up is dropped (it may reconnect) instead of growing memory.
 */
export class TelemetryHub {
  readonly #o: TelemetryHubOptions
  readonly #subs = new Set<SseWriter>()
  #timer: NodeJS.Timeout | undefined
  #seq = 0
  #ticking = false
  #closed = false
  #dropped = 0

  constructor(options: TelemetryHubOptions) {
    this.#o = options
  }

  get subscribers(): number {
    return this.#subs.size
  }

  /** Subscribers dropped for falling behind, since start. */
  get dropped(): number {
    return this.#dropped
  }

  start(): void {
    if (this.#timer || this.#closed) return
    this.#timer = setInterval(() => void this.#tick(), this.#o.intervalMs)
    this.#timer.unref()
  }

  /** Streams events to `res` until the client leaves or the hub closes. */
  subscribe(res: ServerResponse): void {
    const sse = new SseWriter(res, {
      keepAliveMs: this.#o.keepAliveMs ?? hiveStreamPingMs(this.#o.intervalMs),
      maxBufferedBytes: this.#o.maxBufferedBytes ?? 1024 * 1024,
    })
    if (this.#closed) {
      sse.close()
      return
    }
    this.#subs.add(sse)
    sse.onClose(() => this.#subs.delete(sse))
    this.#o.snapshot().then(
      (ev) => this.#sendTo(sse, ev),
      (err: unknown) => this.#o.logger.warn({ err: errorMessage(err) }, 'telemetry snapshot failed'),
    )
  }

  /** Sends an event to every subscriber now. */
  publish(event: HiveStreamEvent): void {
    for (const sse of [...this.#subs]) this.#sendTo(sse, event)
  }

  #sendTo(sse: SseWriter, event: HiveStreamEvent): void {
    if (sse.closed) return
    // On an open stream, send() is false only when it just dropped the reader for being too slow.
    if (!sse.send({ event: event.type, id: ++this.#seq, data: event })) {
      this.#dropped++
      this.#o.logger.warn(
        { subscribers: this.#subs.size },
        'dropped a telemetry subscriber that was not reading',
      )
    }
  }

  async #tick(): Promise<void> {
    if (this.#ticking || this.#subs.size === 0) return
    this.#ticking = true
    try {
      this.publish(await this.#o.snapshot())
    } catch (err) {
      this.#o.logger.warn({ err: errorMessage(err) }, 'telemetry snapshot failed')
    } finally {
      this.#ticking = false
    }
  }

  /** Stops the timer and ends every stream. Idempotent. */
  close(): void {
    this.#closed = true
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = undefined
    for (const sse of this.#subs) sse.close()
    this.#subs.clear()
  }
}
