import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { RelayTarget } from '../proxy/openai-relay.js'

const LAST_CHUNK = '0\r\n\r\n'

function head(status: number, headers: Record<string, string>): string {
  let text = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n`
  for (const [k, v] of Object.entries(headers)) text += `${k}: ${v}\r\n`
  return `${text}\r\n`
}

/**
 * One answer of the fast lane, written on the connection's socket as HTTP/1.1: a stream in
 * chunked coding (each piece one `writev`), or a whole body with its length. `done` resolves
 * when the answer is complete (the connection can take the next request) or the socket is gone.
 */
export class LaneResponse implements RelayTarget {
  readonly #socket: Socket
  readonly #keepAlive: boolean
  readonly #drain: Array<() => void> = []
  readonly #onDrain = (): void => {
    for (const fn of this.#drain) fn()
  }
  #finished = false
  #corked = false
  readonly #uncork = (): void => {
    this.#corked = false
    this.#socket.uncork()
  }
  #resolve!: (complete: boolean) => void
  /** True when the answer was written whole; false when the socket went away first. */
  readonly done: Promise<boolean>

  constructor(socket: Socket, keepAlive: boolean) {
    this.#socket = socket
    this.#keepAlive = keepAlive
    this.done = new Promise<boolean>((resolve) => (this.#resolve = resolve))
    socket.on('drain', this.#onDrain)
  }

  /**
   * Writes on the socket, coalesced with every other write of this turn of the event loop (the
   * frames of one read from the worker leave in one `writev`, not one syscall each).
   */
  #out(data: Buffer | string): boolean {
    if (!this.#corked) {
      this.#corked = true
      this.#socket.cork()
      process.nextTick(this.#uncork)
    }
    return this.#socket.write(data)
  }

  get destroyed(): boolean {
    return this.#socket.destroyed
  }

  get finished(): boolean {
    return this.#finished
  }

  /** Starts a chunked answer with these headers. */
  stream(status: number, headers: Record<string, string>): this {
    this.#out(
      head(status, {
        ...headers,
        'transfer-encoding': 'chunked',
        ...(this.#keepAlive ? {} : { connection: 'close' }),
      }),
    )
    return this
  }

  write(chunk: Buffer): boolean {
    if (this.#finished || this.#socket.destroyed) return true
    // One buffer per piece: size line, bytes, CRLF (a token frame is a few hundred bytes; one
    // copy is cheaper than three writes and a string encoding).
    const size = chunk.length.toString(16)
    const framed = Buffer.allocUnsafe(size.length + chunk.length + 4)
    framed.write(size, 0, 'latin1')
    framed.writeUInt16BE(0x0d0a, size.length)
    chunk.copy(framed, size.length + 2)
    framed.writeUInt16BE(0x0d0a, size.length + 2 + chunk.length)
    return this.#out(framed)
  }

  /**
   * Bytes already in chunked coding (the worker's own chunks, passed through as they came): one
   * write per read from the worker, so straight to the socket (behind any corked writes).
   */
  writeChunked(bytes: Buffer): boolean {
    if (this.#finished || this.#socket.destroyed) return true
    return this.#socket.write(bytes)
  }

  end(last?: string): void {
    if (this.#finished) return
    if (last !== undefined && last.length > 0) this.write(Buffer.from(last, 'utf8'))
    this.#out(LAST_CHUNK)
    this.#finish(true)
  }

  /** Sends a whole answer. */
  whole(status: number, headers: Record<string, string>, body: Buffer | string): void {
    if (this.#finished) return
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body
    this.#out(
      head(status, {
        ...headers,
        'content-length': String(bytes.length),
        ...(this.#keepAlive ? {} : { connection: 'close' }),
      }),
    )
    this.#out(bytes)
    this.#finish(true)
  }

  on(event: 'drain', listener: () => void): this {
    if (event === 'drain') this.#drain.push(listener)
    return this
  }

  destroy(): void {
    this.#socket.destroy()
    this.#finish(false)
  }

  /** The socket closed (the lane calls this): an unfinished answer is over. */
  closed(): void {
    this.#finish(false)
  }

  #finish(complete: boolean): void {
    if (this.#finished) return
    this.#finished = true
    this.#socket.off('drain', this.#onDrain)
    if (complete && !this.#keepAlive) this.#socket.end()
    this.#resolve(complete)
  }
}
