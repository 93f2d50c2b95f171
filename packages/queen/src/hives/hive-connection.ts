import { type EventSubscription, HiveClient } from '@rbee/client'
import type { Logger } from '@rbee/common'
import type { HiveStreamEvent, HiveStreamEventSchema } from '@rbee/contracts'
import type { Registry } from '../registry/registry.js'
import { HiveLiveness, type HiveLivenessBounds } from './hive-liveness.js'

export interface HiveConnectionOptions {
  id: string
  url: string
  /** Node token presented to the hive. */
  token?: string | undefined
  registry: Registry
  logger: Logger
  /**
   * Nothing on the stream for this long drops it (the hive is offline) and reconnects, also when
   * the hive's host still answers (a hive stopped or hung that long).
   */
  idleTimeoutMs: number
  /** When a quiet stream makes the hive suspect, or offline at once when its host does not answer. */
  liveness: HiveLivenessBounds
  /** Every valid event of this hive, after the registry has applied it. */
  onEvent?: (ev: HiveStreamEvent) => void
}

/** Idle connections to a hive are probed by the kernel after this long (TCP keepalive). */
const TCP_KEEPALIVE_MS = 1000

/**
 * The queen's link to one hive: a client for its API and a subscription to its heartbeat
 * stream, reconnecting with backoff and jitter. Events go to the registry. A dropped stream takes
 * the hive offline at once; a quiet one makes it suspect, and offline when its host does not
 * answer either (see `HiveLiveness`) or the silence lasts `idleTimeoutMs`.
 */
export class HiveConnection {
  readonly id: string
  readonly url: string
  readonly client: HiveClient
  readonly #o: HiveConnectionOptions
  #sub: EventSubscription<typeof HiveStreamEventSchema> | undefined
  #wrongId: string | undefined
  readonly #liveness: HiveLiveness

  constructor(options: HiveConnectionOptions) {
    this.#o = options
    this.id = options.id
    this.url = options.url
    this.client = new HiveClient({
      baseUrl: options.url,
      token: options.token,
      name: `hive ${options.id}`,
      tcpKeepAliveMs: TCP_KEEPALIVE_MS,
    })
    this.#liveness = new HiveLiveness({
      ...options.liveness,
      url: options.url,
      onSuspect: (reason) => {
        options.logger.warn({ hive_id: this.id, reason }, 'hive quiet; its host answers: suspect')
        options.registry.hiveSuspect(this.id, reason)
      },
      onSteady: () => options.registry.hiveHeard(this.id),
      onUnreachable: (reason) => this.#sub?.drop(reason),
    })
  }

  start(): void {
    const { registry, logger } = this.#o
    let failing = false
    const liveness = this.#liveness
    this.#sub ??= this.client.heartbeats({
      idleTimeoutMs: this.#o.idleTimeoutMs,
      // A connection attempt to a host that is down is given up as fast as a quiet stream is.
      connectTimeoutMs: this.#o.liveness.suspectAfterMs,
      onActivity: () => liveness.activity(),
      // Capped at 1 s: a host back from a cut link is taken back within about a second.
      backoff: { initialMs: 200, maxMs: 1000, jitter: 0.3 },
      onConnect: () => {
        if (failing) logger.info({ hive_id: this.id }, 'hive stream back')
        failing = false
        liveness.connected()
      },
      onEvent: (ev) => {
        if (ev.hive_id !== this.id) {
          // A hive configured under one name that calls itself another: its workers would be
          // filed under a hive the queen does not know. Say so instead of guessing.
          if (this.#wrongId !== ev.hive_id) {
            this.#wrongId = ev.hive_id
            const msg = `hive at ${this.url} reports id ${ev.hive_id}, expected ${this.id}`
            logger.error({ hive_id: this.id, reported: ev.hive_id }, 'hive id mismatch')
            registry.hiveError(this.id, msg)
          }
          return
        }
        registry.hiveEvent(ev)
        this.#o.onEvent?.(ev)
      },
      onDisconnect: (reason) => {
        liveness.disconnected()
        if (!failing)
          logger.warn({ hive_id: this.id, url: this.url, reason }, 'hive stream down; reconnecting')
        failing = true
        registry.hiveDisconnected(this.id, reason)
      },
      onInvalid: (reason) => logger.warn({ hive_id: this.id, reason }, 'hive sent an invalid event'),
    })
  }

  /** The hive announced itself: if its stream is down, reconnect now instead of after the backoff. */
  wake(): void {
    this.#sub?.reconnectNow()
  }

  async close(): Promise<void> {
    this.#liveness.close()
    await this.#sub?.close()
    await this.client.close()
  }
}
