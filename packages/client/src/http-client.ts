import { errorMessage, parseJson, RbeeError } from '@rbee/common/base'
import { describeIssues, STREAM_IDLE_TIMEOUT_MS } from '@rbee/contracts'
import { type Dispatcher, Pool } from 'undici'
import type { z } from 'zod'
import { errorFromResponse, unreachableError } from './response-error.js'

export interface HttpClientOptions {
  /** Base URL of the server, e.g. `http://127.0.0.1:7833`. */
  baseUrl: string
  /** Bearer token sent on every request. */
  token?: string | undefined
  /** Time to receive response headers. @default 30_000 */
  timeoutMs?: number
  /** Most connections kept to the server; `undefined` means no limit. */
  connections?: number
  /** How long an idle pooled connection is kept. @default 30_000 */
  keepAliveMs?: number
  /** What to call the server in error messages. @default the base URL */
  name?: string
  /**
   * TCP keepalive: an idle connection is probed by the kernel after this long, so one whose peer
   * host vanished errors out instead of waiting forever. @default 60_000 (undici's)
   */
  tcpKeepAliveMs?: number
  /**
   * A stream (job events) that brings nothing, not even a keep-alive comment, for this long is
   * ended with `RBEE_STREAM_STALLED`: the server stopped answering. 0 disables.
   * @default STREAM_IDLE_TIMEOUT_MS
   */
  streamIdleTimeoutMs?: number
}

export interface RequestOptions {
  /** JSON-serialised as the request body. */
  body?: unknown
  signal?: AbortSignal | undefined
  /** Overrides the client's header timeout. */
  timeoutMs?: number
  headers?: Record<string, string>
}

/** A response whose body is still to be read (SSE and other streams). */
export interface StreamResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: AsyncIterable<Uint8Array> & { destroy(err?: Error): unknown }
}

/**
 * The transport under `QueenClient` and `HiveClient`: one pooled keep-alive connection set to
 * one server (undici `Pool`), bearer auth, JSON in and out, every answer validated with a
 * contract schema, every failure an `RbeeError` carrying the server's code.
 */
export class HttpClient {
  readonly baseUrl: string
  readonly #pool: Pool
  readonly #token: string | undefined
  readonly #timeoutMs: number
  readonly #name: string
  /** See `HttpClientOptions.streamIdleTimeoutMs`. */
  readonly streamIdleTimeoutMs: number

  constructor(options: HttpClientOptions) {
    const url = new URL(options.baseUrl)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new RbeeError('RBEE_CONFIG', `not an http(s) URL: ${options.baseUrl}`)
    }
    this.baseUrl = url.origin
    this.#pool = new Pool(url.origin, {
      connections: options.connections ?? null,
      keepAliveTimeout: options.keepAliveMs ?? 30_000,
      pipelining: 1,
      ...(options.tcpKeepAliveMs === undefined
        ? {}
        : { connect: { keepAlive: true, keepAliveInitialDelay: options.tcpKeepAliveMs } }),
    })
    this.streamIdleTimeoutMs = options.streamIdleTimeoutMs ?? STREAM_IDLE_TIMEOUT_MS
    this.#token = options.token
    this.#timeoutMs = options.timeoutMs ?? 30_000
    this.#name = options.name ?? url.origin
  }

  /** What the server is called in error messages. */
  get name(): string {
    return this.#name
  }

  #headers(extra: Record<string, string> | undefined, hasBody: boolean): Record<string, string> {
    return {
      ...(hasBody ? { 'content-type': 'application/json' } : {}),
      ...(this.#token ? { authorization: `Bearer ${this.#token}` } : {}),
      ...extra,
    }
  }

  async #send(
    method: Dispatcher.HttpMethod,
    path: string,
    options: RequestOptions,
    streaming: boolean,
  ): Promise<Dispatcher.ResponseData> {
    const hasBody = options.body !== undefined
    try {
      return await this.#pool.request({
        method,
        path,
        headers: this.#headers(options.headers, hasBody),
        body: hasBody ? JSON.stringify(options.body) : null,
        signal: options.signal ?? null,
        headersTimeout: options.timeoutMs ?? this.#timeoutMs,
        // A stream may stay quiet between events for as long as it likes.
        bodyTimeout: streaming ? 0 : (options.timeoutMs ?? this.#timeoutMs),
      })
    } catch (err) {
      if (options.signal?.aborted) throw options.signal.reason
      throw unreachableError(this.#name, err)
    }
  }

  async #failure(res: Dispatcher.ResponseData): Promise<RbeeError> {
    const text = await res.body.text().catch(() => '')
    return errorFromResponse(res.statusCode, res.headers, text, this.#name)
  }

  /**
   * Sends a request and returns its JSON answer parsed with `schema`.
   * @throws RbeeError with the server's code on a non-2xx answer, `RBEE_UNREACHABLE` when the
   * server cannot be reached, `RBEE_UPSTREAM` when the answer breaks the contract.
   */
  async json<S extends z.ZodType>(
    method: Dispatcher.HttpMethod,
    path: string,
    schema: S,
    options: RequestOptions = {},
  ): Promise<z.output<S>> {
    const res = await this.#send(method, path, options, false)
    if (res.statusCode < 200 || res.statusCode >= 300) throw await this.#failure(res)
    let raw: unknown
    try {
      raw = res.statusCode === 204 ? undefined : parseJson(await res.body.text())
    } catch (err) {
      if (options.signal?.aborted) throw options.signal.reason
      throw new RbeeError(
        'RBEE_UPSTREAM',
        `${this.#name} sent a body rbee cannot read: ${errorMessage(err)}`,
        {
          cause: err,
        },
      )
    }
    const parsed = schema.safeParse(raw)
    if (!parsed.success) {
      throw new RbeeError(
        'RBEE_UPSTREAM',
        `unexpected answer from ${this.#name} ${method} ${path}: ${describeIssues(parsed.error)}`,
      )
    }
    return parsed.data
  }

  /** Sends a request and returns the raw text of a 2xx answer (e.g. Prometheus metrics). */
  async text(method: Dispatcher.HttpMethod, path: string, options: RequestOptions = {}): Promise<string> {
    const res = await this.#send(method, path, options, false)
    if (res.statusCode < 200 || res.statusCode >= 300) throw await this.#failure(res)
    return res.body.text()
  }

  /**
   * Opens a streaming response (SSE). A non-2xx answer is read and thrown as an `RbeeError`; a
   * 2xx body is handed over unread, and the caller must consume or destroy it.
   */
  async stream(
    method: Dispatcher.HttpMethod,
    path: string,
    options: RequestOptions = {},
  ): Promise<StreamResponse> {
    const res = await this.#send(
      method,
      path,
      { ...options, headers: { accept: 'text/event-stream', ...options.headers } },
      true,
    )
    if (res.statusCode < 200 || res.statusCode >= 300) throw await this.#failure(res)
    return { status: res.statusCode, headers: res.headers, body: res.body }
  }

  /** Closes pooled connections; streams still open are destroyed. Idempotent. */
  async close(): Promise<void> {
    if (this.#pool.closed || this.#pool.destroyed) return
    await this.#pool.destroy()
  }
}
