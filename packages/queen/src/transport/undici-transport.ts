import { parseJson, RbeeError, timeoutHeaderValue } from '@rbee/common'
import { REQUEST_TIMEOUT_HEADER, type WorkerInfo, WorkerInfoSchema } from '@rbee/contracts'
import { Agent, type Dispatcher } from 'undici'
import { z } from 'zod'
import type { WorkerEntry } from '../registry/worker-entry.js'
import { failureFrom, transportFailure } from './worker-failure.js'
import {
  SAFE_REQUEST_ID,
  STALE_RETRY_WINDOW_MS,
  type StreamArgs,
  type StreamControl,
  type WorkerRequestOptions,
  type WorkerTransport,
} from './worker-transport.js'

/** The part of a worker's `/v1/info` that names its hive. */
const WorkerInfoLinkSchema = z.object({ hive_url: z.url({ protocol: /^https?$/ }).nullable() })

/** Errors of a kept-alive connection the worker closed just as it was reused. */
const STALE_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE'])

export interface WorkerTransportOptions {
  /** Bearer token presented to workers (the node token), if any. */
  token?: string | undefined
  /** @default 5000 */
  connectTimeoutMs?: number
}

/**
 * The queen's connections to workers over undici: one `Agent` keeps a pool of keep-alive
 * connections per worker origin, so a request reuses a warm socket instead of paying a TCP
 * handshake; llhttp reads the answers.
 */
export class UndiciTransport implements WorkerTransport {
  readonly #agent: Agent
  protected readonly token: string | undefined
  readonly #baseHeaders: Record<string, string>

  constructor(options: WorkerTransportOptions = {}) {
    this.#agent = new Agent({
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
      pipelining: 1,
      connect: { timeout: options.connectTimeoutMs ?? 5000, noDelay: true },
    })
    this.token = options.token
    this.#baseHeaders = {
      'content-type': 'application/json',
      accept: 'text/event-stream, application/json',
      ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
    }
  }

  async request(
    worker: WorkerEntry,
    path: string,
    body: string,
    options: WorkerRequestOptions,
  ): Promise<Dispatcher.ResponseData> {
    if (this.closing) throw this.shuttingDown()
    try {
      return await this.#agent.request({
        origin: worker.url,
        path,
        method: 'POST',
        headers: this.headers(options.requestId, options.deadlineAt),
        body,
        signal: options.signal,
        headersTimeout: options.headersTimeoutMs,
        bodyTimeout: 0,
      })
    } catch (err) {
      if (options.signal.aborted) throw options.signal.reason
      throw transportFailure(worker, err)
    }
  }

  async failure(worker: WorkerEntry, res: Dispatcher.ResponseData): Promise<RbeeError> {
    const text = await res.body.text().catch(() => '')
    return failureFrom(worker, res.statusCode, res.headers, text)
  }

  /**
   * Streams over undici's dispatcher, no `Readable` in between: the answer's head and decoded
   * body pieces go straight to `sink`. A kept-alive connection the worker closed just as it was
   * reused (an error before any answer byte) is replaced once, as the raw transport does.
   */
  stream(...[worker, path, body, options, sink]: StreamArgs): StreamControl {
    if (this.closing) return this.refused(sink, this.shuttingDown())
    const { signal } = options
    let controller: Dispatcher.DispatchController | undefined
    let done = false
    let answered = false
    let retried = false
    const finish = (): void => {
      done = true
      signal.removeEventListener('abort', onAbort)
    }
    const onAbort = (): void => {
      if (done) return
      finish()
      controller?.abort(signal.reason)
      sink.onError(signal.reason)
    }
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart: (c) => {
        controller = c
        if (done) c.abort(signal.reason)
      },
      onResponseStart: (_c, statusCode, headers) => {
        answered = true
        if (done) return
        sink.onHeaders(statusCode, flatHeaders(headers))
      },
      onResponseData: (c, chunk) => {
        if (!done && !sink.onData(chunk)) c.pause()
      },
      onResponseEnd: () => {
        if (done) return
        finish()
        sink.onEnd()
      },
      onResponseError: (_c, err) => {
        if (done) return
        const code = (err as { code?: unknown }).code
        const stale = performance.now() - sentAt < STALE_RETRY_WINDOW_MS
        if (
          !answered &&
          !retried &&
          stale &&
          typeof code === 'string' &&
          STALE_CODES.has(code) &&
          !signal.aborted
        ) {
          retried = true
          send()
          return
        }
        finish()
        sink.onError(signal.aborted ? signal.reason : transportFailure(worker, err))
      },
    }
    let sentAt = 0
    // A retry waits for headers only as long as the first attempt had left.
    const headersBy = performance.now() + options.headersTimeoutMs
    const send = (): void => {
      sentAt = performance.now()
      this.#agent.dispatch(
        {
          origin: worker.url,
          path,
          method: 'POST',
          headers: this.headers(options.requestId, options.deadlineAt),
          body,
          headersTimeout: Math.max(1, Math.round(headersBy - sentAt)),
          bodyTimeout: 0,
        },
        handler,
      )
    }
    if (signal.aborted) {
      done = true
      queueMicrotask(() => sink.onError(signal.reason))
    } else {
      signal.addEventListener('abort', onAbort, { once: true })
      send()
    }
    return { resume: () => controller?.resume(), passThrough: () => false, owedChunkBytes: () => 0 }
  }

  async info(url: string, signal?: AbortSignal): Promise<WorkerInfo> {
    const res = await this.#getInfo(url, signal)
    if (res.statusCode !== 200) {
      await res.body.dump()
      throw new RbeeError('RBEE_UPSTREAM', `worker at ${url} answered ${res.statusCode} to /v1/info`)
    }
    return WorkerInfoSchema.parse(parseJson(await res.body.text()))
  }

  async hiveUrlOf(url: string, signal?: AbortSignal): Promise<string | null> {
    const res = await this.#getInfo(url, signal)
    if (res.statusCode !== 200) {
      await res.body.dump()
      return null
    }
    const parsed = WorkerInfoLinkSchema.safeParse(parseJson(await res.body.text()))
    return parsed.success ? parsed.data.hive_url : null
  }

  #getInfo(url: string, signal: AbortSignal | undefined): Promise<Dispatcher.ResponseData> {
    return this.#agent.request({
      origin: url,
      path: '/v1/info',
      method: 'GET',
      headers: this.token ? { authorization: `Bearer ${this.token}` } : {},
      signal: signal ?? AbortSignal.timeout(5000),
    })
  }

  /** Headers of a request to a worker (the fixed part is built once, in the constructor). */
  protected headers(requestId: string | undefined, deadlineAt: number | undefined): Record<string, string> {
    if (!requestId && deadlineAt === undefined) return this.#baseHeaders
    return {
      ...this.#baseHeaders,
      ...(requestId && SAFE_REQUEST_ID.test(requestId) ? { 'x-request-id': requestId } : {}),
      ...(deadlineAt === undefined ? {} : { [REQUEST_TIMEOUT_HEADER]: timeoutHeaderValue(deadlineAt) }),
    }
  }

  /** Set by `close()`: a request after it is refused as the queen's own shutdown, not the worker's failure. */
  protected closing = false

  /** The error of a request made while the transport closes: final, no worker blamed. */
  protected shuttingDown(): RbeeError {
    return new RbeeError('RBEE_DRAINING', 'the queen is shutting down')
  }

  /** A stream refused before it starts (its sink told on the next microtask). */
  protected refused(sink: StreamArgs[4], err: unknown): StreamControl {
    queueMicrotask(() => sink.onError(err))
    return { resume: () => {}, passThrough: () => false, owedChunkBytes: () => 0 }
  }

  async close(): Promise<void> {
    this.closing = true
    await this.#agent.destroy()
  }
}

/** undici's header object with repeated headers joined, as the raw transport reports them. */
function flatHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(headers))
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v
  return out
}
