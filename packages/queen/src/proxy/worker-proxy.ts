import type { Socket } from 'node:net'
import { errorFromResponse } from '@rbee/client'
import { errorMessage, parseJson, RbeeError, timeoutHeaderValue } from '@rbee/common'
import { REQUEST_TIMEOUT_HEADER, type WorkerInfo, WorkerInfoSchema } from '@rbee/contracts'
import { Agent, type Dispatcher } from 'undici'
import { z } from 'zod'
import type { WorkerEntry } from '../registry/worker-entry.js'
import { Http1ResponseParser } from './http1-response-parser.js'
import { SocketPool } from './socket-pool.js'

/** A request id the queen passes on in a header it writes itself: visible ASCII only. */
export const SAFE_REQUEST_ID = /^[\x21-\x7e]{1,128}$/

/** The part of a worker's `/v1/info` that names its hive. */
const WorkerInfoLinkSchema = z.object({ hive_url: z.url({ protocol: /^https?$/ }).nullable() })

/**
 * A worker failed a request before the client saw anything from it. `retryable` says another
 * worker may take the request; `quarantine` says this worker should leave routing for a moment
 * (it refused or dropped the connection, or answered 5xx other than busy).
 */
export class WorkerFailure extends RbeeError {
  readonly retryable: boolean
  readonly quarantine: boolean
  readonly workerId: string

  constructor(
    workerId: string,
    message: string,
    options: {
      retryable: boolean
      quarantine: boolean
      cause?: unknown
      status?: number
      code?: RbeeError['code']
    },
  ) {
    super(options.code ?? 'RBEE_WORKER_FAILED', message, { cause: options.cause, status: options.status })
    this.workerId = workerId
    this.retryable = options.retryable
    this.quarantine = options.quarantine
  }
}

export interface WorkerProxyOptions {
  /** Bearer token presented to workers (the node token), if any. */
  token?: string | undefined
  /** @default 5000 */
  connectTimeoutMs?: number
}

/**
 * The queen's connections to workers: one undici `Agent` keeps a pool of keep-alive connections
 * per worker origin, so a request reuses a warm socket instead of paying a TCP handshake.
 */
export class WorkerProxy {
  readonly #agent: Agent
  readonly #sockets: SocketPool
  readonly #token: string | undefined
  readonly #baseHeaders: Record<string, string>
  /** The fixed headers of a streamed request, as written on the wire. */
  readonly #rawHeaders: string

  constructor(options: WorkerProxyOptions = {}) {
    this.#agent = new Agent({
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
      pipelining: 1,
      connect: { timeout: options.connectTimeoutMs ?? 5000, noDelay: true },
    })
    this.#sockets = new SocketPool({ connectTimeoutMs: options.connectTimeoutMs ?? 5000 })
    this.#token = options.token
    this.#baseHeaders = {
      'content-type': 'application/json',
      accept: 'text/event-stream, application/json',
      ...(this.#token ? { authorization: `Bearer ${this.#token}` } : {}),
    }
    this.#rawHeaders = Object.entries(this.#baseHeaders)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')
  }

  /**
   * Sends `body` (JSON text) to the worker. A transport failure (refused, reset, timeout)
   * throws a retryable `WorkerFailure`; the caller reads or destroys the response body.
   */
  async request(
    worker: WorkerEntry,
    path: string,
    body: string,
    options: WorkerRequestOptions,
  ): Promise<Dispatcher.ResponseData> {
    try {
      return await this.#agent.request({
        origin: worker.url,
        path,
        method: 'POST',
        headers: this.#headers(options.requestId, options.deadlineAt),
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

  /**
   * Reads a non-2xx answer: 5xx becomes a retryable `WorkerFailure` (busy and loading workers
   * are not quarantined), 4xx the worker's own error (the request itself is wrong).
   */
  async failure(worker: WorkerEntry, res: Dispatcher.ResponseData): Promise<RbeeError> {
    const text = await res.body.text().catch(() => '')
    return failureFrom(worker, res.statusCode, res.headers, text)
  }

  /**
   * The hot path of OpenAI requests: sends `body` over a pooled keep-alive connection of the queen's own
   * (a minimal HTTP/1.1 exchange, measured cheaper per request than undici's) and hands the
   * answer's body to `sink` as it is read. `sink.onData` returning false pauses the connection
   * until `resume()`. Transport failures reach `sink.onError` as retryable `WorkerFailure`s; an
   * aborted `signal` as its reason. A kept-alive connection the worker closed just as it was
   * reused is replaced once, transparently.
   */
  stream(
    worker: WorkerEntry,
    path: string,
    body: string,
    options: WorkerRequestOptions,
    sink: StreamSink,
  ): StreamControl {
    const { signal } = options
    const target = this.#sockets.target(worker.url)
    const request = `POST ${path} HTTP/1.1\r\nhost: ${target.authority}\r\n${this.#rawHeaders}${
      options.requestId && SAFE_REQUEST_ID.test(options.requestId)
        ? `x-request-id: ${options.requestId}\r\n`
        : ''
    }${
      options.deadlineAt === undefined
        ? ''
        : `${REQUEST_TIMEOUT_HEADER}: ${timeoutHeaderValue(options.deadlineAt)}\r\n`
    }content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
    let socket: Socket
    let done = false
    let answered = false
    let keepAliveS: number | undefined
    let headersTimer: NodeJS.Timeout | undefined
    const detach = (): void => {
      clearTimeout(headersTimer)
      signal.removeEventListener('abort', onAbort)
      socket.off('data', onData).off('error', onError).off('close', onClose)
    }
    const fail = (err: unknown): void => {
      if (done) return
      done = true
      detach()
      socket.destroy()
      sink.onError(signal.aborted ? signal.reason : transportFailure(worker, err))
    }
    const parser = new Http1ResponseParser({
      onHead: (head) => {
        clearTimeout(headersTimer)
        const ka = /timeout=(\d+)/.exec(head.headers['keep-alive'] ?? '')
        keepAliveS = ka ? Number(ka[1]) : undefined
        sink.onHeaders(head.status, head.headers)
      },
      onBody: (payload) => {
        if (!done && !sink.onData(payload)) socket.pause()
      },
      onComplete: (keepAlive) => {
        if (done) return
        done = true
        detach()
        if (keepAlive) this.#sockets.release(target, socket, keepAliveS)
        else socket.destroy()
        sink.onEnd()
      },
    })
    const onData = (data: Buffer): void => {
      answered = true
      try {
        parser.feed(data)
      } catch (err) {
        fail(err)
      }
    }
    // A reused connection that fails before any answer byte was closed by the worker as it
    // was taken from the pool: the request goes again on a new one.
    const stale = (): boolean => !answered && reused && !signal.aborted && !done
    const onError = (err: Error): void => {
      if (stale()) retry()
      else fail(err)
    }
    const onClose = (): void => {
      if (done) return
      if (stale()) {
        retry()
        return
      }
      try {
        parser.end()
      } catch (err) {
        fail(err)
      }
    }
    const onAbort = (): void => fail(signal.reason)
    let reused = false
    const send = (): void => {
      const got = this.#sockets.acquire(target)
      socket = got.socket
      reused = got.reused
      socket.on('data', onData).on('error', onError).on('close', onClose)
      socket.write(request)
    }
    const retry = (): void => {
      socket.off('data', onData).off('error', onError).off('close', onClose)
      socket.destroy()
      reused = false
      send()
    }
    if (signal.aborted) {
      queueMicrotask(() => sink.onError(signal.reason))
      return { resume: () => {}, passThrough: () => false, owedChunkBytes: () => 0 }
    }
    signal.addEventListener('abort', onAbort, { once: true })
    headersTimer = setTimeout(
      () => fail(new Error(`no response headers within ${options.headersTimeoutMs} ms`)),
      options.headersTimeoutMs,
    )
    send()
    return {
      resume: () => socket.resume(),
      passThrough: () => parser.passThrough(),
      owedChunkBytes: () => parser.owedChunkBytes,
    }
  }

  /** A worker's own `GET /v1/info`. */
  async info(url: string, signal?: AbortSignal): Promise<WorkerInfo> {
    const res = await this.#getInfo(url, signal)
    if (res.statusCode !== 200) {
      await res.body.dump()
      throw new RbeeError('RBEE_UPSTREAM', `worker at ${url} answered ${res.statusCode} to /v1/info`)
    }
    return WorkerInfoSchema.parse(parseJson(await res.body.text()))
  }

  /** The `hive_url` a worker reports in its `/v1/info` (null when it has none). */
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
      headers: this.#token ? { authorization: `Bearer ${this.#token}` } : {},
      signal: signal ?? AbortSignal.timeout(5000),
    })
  }

  /** Headers of a request to a worker (the fixed part is built once, in the constructor). */
  #headers(requestId: string | undefined, deadlineAt: number | undefined): Record<string, string> {
    if (!requestId && deadlineAt === undefined) return this.#baseHeaders
    return {
      ...this.#baseHeaders,
      ...(requestId ? { 'x-request-id': requestId } : {}),
      ...(deadlineAt === undefined ? {} : { [REQUEST_TIMEOUT_HEADER]: timeoutHeaderValue(deadlineAt) }),
    }
  }

  /** Closes every pooled connection. */
  async close(): Promise<void> {
    this.#sockets.close()
    await this.#agent.destroy()
  }
}

/** How one request goes to a worker. */
export interface WorkerRequestOptions {
  signal: AbortSignal
  requestId?: string | undefined
  headersTimeoutMs: number
  /**
   * The request's deadline (epoch milliseconds): the worker is told what is left of it in
   * `X-Request-Timeout` and stops generating there.
   */
  deadlineAt?: number | undefined
}

/** What the receiver of a streamed answer can ask of it. */
export interface StreamControl {
  /** Reads from the worker again after `onData` returned false. */
  resume(): void
  /**
   * Asks for the rest of a chunked body as the worker framed it (see
   * `Http1ResponseParser.passThrough`); call it from `onData`. False when the body is not chunked.
   */
  passThrough(): boolean
  /** See `Http1ResponseParser.owedChunkBytes`. */
  owedChunkBytes(): number
}

/** Receives a streamed answer from `WorkerProxy.stream`. */
export interface StreamSink {
  onHeaders(statusCode: number, headers: Record<string, string>): void
  /** Returns false to pause the worker's stream until `resume()`. */
  onData(chunk: Buffer): boolean
  onEnd(): void
  onError(err: unknown): void
}

/** The error for a worker's non-2xx answer (see `WorkerProxy.failure`). */
export function failureFrom(
  worker: WorkerEntry,
  statusCode: number,
  headers: Record<string, string | string[] | undefined>,
  text: string,
): RbeeError {
  const e = errorFromResponse(statusCode, headers, text, `worker ${worker.id}`)
  // The worker ended the request at its deadline: not a worker failure, and nothing to retry.
  if (statusCode < 500 || e.code === 'RBEE_DEADLINE_EXCEEDED') return e
  const transient = e.code === 'RBEE_BUSY' || e.code === 'RBEE_NOT_READY' || e.code === 'RBEE_DRAINING'
  return new WorkerFailure(worker.id, `worker ${worker.id} answered ${statusCode}: ${e.message}`, {
    retryable: true,
    quarantine: !transient,
    status: 502,
    cause: e,
  })
}

/** A failure of the connection itself: the worker is probably gone. */
export function transportFailure(worker: WorkerEntry, err: unknown): WorkerFailure {
  if (err instanceof WorkerFailure) return err
  const code = (err as { code?: unknown }).code
  return new WorkerFailure(
    worker.id,
    `worker ${worker.id} at ${worker.url} failed: ${typeof code === 'string' ? `${code} ` : ''}${errorMessage(err)}`,
    { retryable: true, quarantine: true, cause: err, status: 502 },
  )
}
