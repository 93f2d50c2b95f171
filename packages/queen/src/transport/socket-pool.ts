import { connect, type Socket } from 'node:net'

/** Where a worker listens, parsed once from its URL. */
export interface Target {
  key: string
  host: string
  port: number
  /** `host:port` as a Host header says it (IPv6 in brackets). */
  authority: string
}

export interface SocketPoolOptions {
  /** A connection not established within this is given up. @default 5000 */
  connectTimeoutMs?: number
  /** An idle connection is closed after this, or 1 s before the server's own keep-alive timeout. @default 30_000 */
  idleMs?: number
}

/**
 * Keep-alive TCP connections to workers, one request at a time on each: a request takes an idle
 * one when there is one (the warm socket skips a handshake) and gives it back when the answer
 * is complete. Idle connections close before the worker would close them, and leave the pool
 * the moment they close or fail.
 */
export class SocketPool {
  readonly #idle = new Map<string, Socket[]>()
  readonly #targets = new Map<string, Target>()
  readonly #busy = new Set<Socket>()
  readonly #connectTimeoutMs: number
  readonly #idleMs: number
  #closed = false

  constructor(options: SocketPoolOptions = {}) {
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 5000
    this.#idleMs = options.idleMs ?? 30_000
  }

  /** The target of a worker URL (`http://host:port`), cached. */
  target(url: string): Target {
    let t = this.#targets.get(url)
    if (!t) {
      const u = new URL(url)
      const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname
      t = { key: url, host, port: Number(u.port || 80), authority: u.host }
      if (this.#targets.size > 10_000) this.#targets.clear()
      this.#targets.set(url, t)
    }
    return t
  }

  /**
   * A connection to `target`: an idle one, or a new one (connecting; a failure or the connect
   * timeout surfaces as its `error` event).
   */
  acquire(target: Target): { socket: Socket; reused: boolean } {
    const idle = this.#idle.get(target.key)
    while (idle && idle.length > 0) {
      const s = idle.pop()!
      if (idle.length === 0) this.#idle.delete(target.key)
      s.removeAllListeners('close')
        .removeAllListeners('error')
        .removeAllListeners('data')
        .removeAllListeners('timeout')
      if (s.destroyed || !s.writable) {
        s.destroy()
        continue
      }
      s.setTimeout(0)
      this.#busy.add(s)
      s.once('close', () => this.#busy.delete(s))
      return { socket: s, reused: true }
    }
    const s = connect({ host: target.host, port: target.port, noDelay: true })
    const timer = setTimeout(() => {
      const err = Object.assign(new Error(`connect timeout after ${this.#connectTimeoutMs} ms`), {
        code: 'ETIMEDOUT',
      })
      s.destroy(err)
    }, this.#connectTimeoutMs)
    s.once('connect', () => clearTimeout(timer))
    s.once('close', () => {
      clearTimeout(timer)
      this.#busy.delete(s)
    })
    this.#busy.add(s)
    return { socket: s, reused: false }
  }

  /**
   * Gives back a connection whose answer is complete. `keepAliveS` is the server's own idle
   * timeout from its `Keep-Alive` header, if it sent one.
   */
  release(target: Target, socket: Socket, keepAliveS?: number): void {
    this.#busy.delete(socket)
    if (this.#closed || socket.destroyed) {
      socket.destroy()
      return
    }
    socket.removeAllListeners('data').removeAllListeners('error').removeAllListeners('end')
    // Paused for a full client socket as its answer ended: an idle one must be read (to see
    // it close) and the next request on it must see its answer.
    socket.resume()
    const idleMs = keepAliveS === undefined ? this.#idleMs : Math.min(this.#idleMs, keepAliveS * 1000 - 1000)
    if (idleMs <= 0) {
      socket.destroy()
      return
    }
    let list = this.#idle.get(target.key)
    if (!list) {
      list = []
      this.#idle.set(target.key, list)
    }
    list.push(socket)
    const drop = (): void => {
      socket.destroy()
      const l = this.#idle.get(target.key)
      const i = l?.indexOf(socket) ?? -1
      if (i >= 0) l!.splice(i, 1)
      if (l?.length === 0) this.#idle.delete(target.key)
    }
    // An idle connection that says anything, closes or fails is of no more use.
    socket.on('data', drop).on('error', drop).on('close', drop).on('timeout', drop)
    socket.setTimeout(idleMs)
  }

  /** Closes every connection, idle or in use. */
  close(): void {
    this.#closed = true
    for (const list of this.#idle.values()) for (const s of list) s.destroy()
    this.#idle.clear()
    for (const s of this.#busy) s.destroy()
    this.#busy.clear()
  }
}
