import type { ServerResponse } from 'node:http'
import { STREAM_KEEP_ALIVE_MS } from '@rbee/contracts'

export interface SseEvent {
  event?: string
  id?: string | number
  /** A string is sent as is (each line its own `data:`); anything else as JSON. */
  data: unknown
}

/** Where SSE events go: an `SseWriter`, or something that translates them on the way to one. */
export interface SseSink {
  /** Sends one event; false if the stream is closed. */
  send(ev: SseEvent): boolean
}

export interface SseWriterOptions {
  /**
   * Comment line sent this often so proxies keep the stream open and readers can tell a quiet
   * stream from a dead one. 0 disables. @default STREAM_KEEP_ALIVE_MS
   */
  keepAliveMs?: number
  /**
   * When more than this many bytes wait in the socket's buffer (a slow reader), the stream is
   * closed instead of growing memory; the client may reconnect. @default 4 MiB
   */
  maxBufferedBytes?: number
  /** Extra response headers. */
  headers?: Record<string, string>
  /** The stream's content type, when not SSE (NDJSON). @default text/event-stream */
  contentType?: string
  /** How one event is written, when not as an SSE frame (NDJSON: its data as one line). @default formatSse */
  frame?: (ev: SseEvent) => string
}

/** Formats one SSE frame. */
export function formatSse(ev: SseEvent): string {
  let out = ''
  if (ev.event) out += `event: ${ev.event}\n`
  if (ev.id !== undefined) out += `id: ${ev.id}\n`
  const data = typeof ev.data === 'string' ? ev.data : JSON.stringify(ev.data)
  for (const line of data.split('\n')) out += `data: ${line}\n`
  return `${out}\n`
}

/**
 * Writes Server-Sent Events to a raw Node response: headers once, then frames. Owns its
 * keep-alive timer and drops a reader that falls too far behind.
 */
export class SseWriter implements SseSink {
  readonly #res: ServerResponse
  readonly #maxBuffered: number
  readonly #frame: (ev: SseEvent) => string
  #timer: NodeJS.Timeout | undefined
  #closed = false
  readonly #onClose: Array<() => void> = []

  constructor(res: ServerResponse, options: SseWriterOptions = {}) {
    this.#res = res
    this.#maxBuffered = options.maxBufferedBytes ?? 4 * 1024 * 1024
    this.#frame = options.frame ?? formatSse
    res.writeHead(200, {
      'content-type': `${options.contentType ?? 'text/event-stream'}; charset=utf-8`,
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      ...options.headers,
    })
    res.flushHeaders()
    // Nagle would hold small token frames back; every frame should leave at once.
    res.socket?.setNoDelay(true)
    const keepAlive = options.keepAliveMs ?? STREAM_KEEP_ALIVE_MS
    if (keepAlive > 0) {
      this.#timer = setInterval(() => this.comment('keep-alive'), keepAlive)
      this.#timer.unref()
    }
    res.on('close', () => this.#finish())
  }

  /** True once the client went away or `close()` was called. */
  get closed(): boolean {
    return this.#closed
  }

  /** Runs `fn` once when the stream ends for any reason. */
  onClose(fn: () => void): void {
    if (this.#closed) fn()
    else this.#onClose.push(fn)
  }

  /** Sends one event; returns false if the stream is closed (or was just dropped as too slow). */
  send(ev: SseEvent): boolean {
    return this.#write(this.#frame(ev))
  }

  comment(text: string): boolean {
    return this.#write(`: ${text}\n\n`)
  }

  #write(chunk: string): boolean {
    if (this.#closed) return false
    if (this.#res.writableLength > this.#maxBuffered) {
      // A slow subscriber: drop it rather than buffer without bound.
      this.#res.destroy()
      this.#finish()
      return false
    }
    this.#res.write(chunk)
    return true
  }

  /** Ends the stream (idempotent). */
  close(): void {
    if (this.#closed) return
    this.#res.end()
    this.#finish()
  }

  #finish(): void {
    if (this.#closed) return
    this.#closed = true
    if (this.#timer) clearInterval(this.#timer)
    for (const fn of this.#onClose.splice(0)) fn()
  }
}
