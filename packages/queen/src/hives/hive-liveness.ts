import { connect } from 'node:net'

/** When a quiet hive stream is looked into, and what makes the hive suspect. */
export interface HiveLivenessBounds {
  /** Quiet this long: the queen checks whether the hive's host still accepts a TCP connection. */
  probeAfterMs: number
  /** Quiet this long: the hive is suspect (still online), or offline if its host did not answer. */
  suspectAfterMs: number
  /** A connection attempt not accepted within this long counts as no answer. */
  probeTimeoutMs: number
}

export interface HiveLivenessOptions extends HiveLivenessBounds {
  /** The hive's URL: its host and port are what is probed. */
  url: string
  /** The stream has been quiet `suspectAfterMs` while the host still answers (or is being asked). */
  onSuspect: (reason: string) => void
  /** Something arrived again after `onSuspect`. */
  onSteady: () => void
  /** Quiet, and the host does not accept a connection: the link or host is down. */
  onUnreachable: (reason: string) => void
}

interface Probe {
  startedAt: number
  done: boolean
  /** Why it failed, once it did. */
  failed: string | undefined
  /** Ends it now: its socket destroyed, its timer cleared (a stream's end or `close()`). */
  abandon: () => void
}

/**
 * Tells a quiet hive from a lost one while its heartbeat stream is open. The hive pings its
 * stream every 250 ms, so a stream quiet for `probeAfterMs` is either a busy (or stopped) hive
 * process or a cut link or dead host. The two differ in whether the host's kernel still accepts a
 * TCP connection, which it does however busy the hive process is: a quiet stream whose host does
 * not accept one within `probeTimeoutMs` is unreachable once the quiet reaches `suspectAfterMs`
 * (the queen then calls it offline, about as fast as the silence alone used to); one whose host
 * accepts is only suspect, and is called offline by the stream's own, longer idle timeout. While
 * suspect the host is asked again every `probeAfterMs`, so a link that goes down then is still
 * noticed. A timer that fires late because the queen itself stalled decides only after pending
 * I/O has been read (data that arrived meanwhile counts). `close()` clears everything.
 */
export class HiveLiveness {
  readonly #o: HiveLivenessOptions
  readonly #host: string
  readonly #port: number
  #lastAt = 0
  #watching = false
  #suspect = false
  #timer: NodeJS.Timeout | undefined
  #probe: Probe | undefined

  constructor(options: HiveLivenessOptions) {
    this.#o = options
    const u = new URL(options.url)
    this.#host = u.hostname.replace(/^\[|\]$/g, '')
    this.#port = u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80
  }

  /** The stream is open: watch it. */
  connected(): void {
    this.#watching = true
    this.#suspect = false
    this.#dropProbe()
    this.#lastAt = performance.now()
    this.#arm(this.#o.probeAfterMs)
  }

  /** Anything arrived on the stream. Called per chunk: cheap. */
  activity(): void {
    this.#lastAt = performance.now()
    if (this.#suspect) {
      this.#suspect = false
      this.#o.onSteady()
    }
  }

  /** The stream is down (the hive is offline already): nothing to watch. */
  disconnected(): void {
    this.#watching = false
    this.#suspect = false
    this.#dropProbe()
    clearTimeout(this.#timer)
  }

  /** Forgets the probe under way, closing its socket and timer so nothing outlives the watch. */
  #dropProbe(): void {
    this.#probe?.abandon()
    this.#probe = undefined
  }

  #arm(ms: number): void {
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => setImmediate(() => this.#check()), Math.max(0, ms))
    this.#timer.unref()
  }

  #check(): void {
    if (!this.#watching) return
    const { probeAfterMs, suspectAfterMs } = this.#o
    const now = performance.now()
    const quiet = now - this.#lastAt
    if (quiet < probeAfterMs) {
      this.#arm(probeAfterMs - quiet)
      return
    }
    const p = this.#probe
    // A probe counts for this silence only if nothing arrived since it started.
    const current = p !== undefined && p.startedAt >= this.#lastAt ? p : undefined
    if (current?.failed !== undefined) {
      if (quiet >= suspectAfterMs) {
        this.disconnected()
        this.#o.onUnreachable(
          `nothing on its stream for ${Math.round(quiet)} ms and its host does not answer (${current.failed})`,
        )
        return
      }
      this.#arm(suspectAfterMs - quiet)
      return
    }
    if (!current || (current.done && now - current.startedAt >= probeAfterMs)) {
      if (!p || p.done) this.#startProbe()
    }
    if (quiet >= suspectAfterMs && !this.#suspect) {
      this.#suspect = true
      this.#o.onSuspect(`nothing on its stream for ${Math.round(quiet)} ms`)
    }
    this.#arm(this.#suspect ? probeAfterMs : Math.min(probeAfterMs, suspectAfterMs - quiet))
  }

  #startProbe(): void {
    const socket = connect({ host: this.#host, port: this.#port })
    let deadline: NodeJS.Timeout | undefined
    const end = (): void => {
      clearTimeout(deadline)
      socket.destroy()
    }
    const probe: Probe = { startedAt: performance.now(), done: false, failed: undefined, abandon: end }
    this.#probe = probe
    const finish = (failed: string | undefined): void => {
      if (probe.done) return
      probe.done = true
      probe.failed = failed
      end()
      if (this.#probe === probe && failed !== undefined) setImmediate(() => this.#check())
    }
    socket.once('connect', () => finish(undefined))
    socket.once('error', (err: NodeJS.ErrnoException) => finish(err.code ?? err.message))
    deadline = setTimeout(
      () => setImmediate(() => finish(`no TCP connection within ${this.#o.probeTimeoutMs} ms`)),
      this.#o.probeTimeoutMs,
    )
    deadline.unref()
  }

  close(): void {
    this.disconnected()
  }
}
