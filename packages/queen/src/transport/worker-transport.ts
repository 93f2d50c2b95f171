import type { RbeeError } from '@rbee/common'
import type { WorkerInfo } from '@rbee/contracts'
import type { Dispatcher } from 'undici'
import type { WorkerEntry } from '../registry/worker-entry.js'

/**
 * How the queen reaches workers: every call the queen makes to a worker goes through one of
 * these. Failures of the connection reach the caller as `WorkerFailure`s classified in
 * `worker-failure.ts`; an aborted signal as its reason.
 */
export interface WorkerTransport {
  /**
   * POSTs `body` (JSON text) to the worker and resolves with the answer's head; the caller reads
   * or destroys its body. @throws WorkerFailure on a transport failure.
   */
  request(
    worker: WorkerEntry,
    path: string,
    body: string,
    options: WorkerRequestOptions,
  ): Promise<WorkerResponse>
  /** The error a non-2xx answer from `request` stands for (see `failureFrom`); reads its body. */
  failure(worker: WorkerEntry, res: WorkerResponse): Promise<RbeeError>
  /**
   * The hot path: POSTs `body` and hands the answer to `sink` as it is read, with backpressure
   * (`sink.onData` returning false pauses until `resume()`).
   */
  stream(...args: StreamArgs): StreamControl
  /** A worker's own `GET /v1/info`. */
  info(url: string, signal?: AbortSignal): Promise<WorkerInfo>
  /** The `hive_url` a worker reports in its `/v1/info` (null when it has none or cannot say). */
  hiveUrlOf(url: string, signal?: AbortSignal): Promise<string | null>
  /** Closes every connection. */
  close(): Promise<void>
}

/**
 * Which transport carries the queen's requests to workers (and whether the fast lane serves
 * OpenAI completions in front of fastify): `raw`, the queen's own HTTP/1.1 client with a
 * keep-alive socket pool, or `undici`. Not for users: it exists to measure one against the other
 * from one build (`RBEE_QUEEN_TRANSPORT`, bench/queen/RESULTS.md).
 */
export type WorkerTransportKind = 'raw' | 'undici'

/** The arguments of `WorkerTransport.stream`: the worker, path, JSON body, options, and where the answer goes. */
export type StreamArgs = [
  worker: WorkerEntry,
  path: string,
  body: string,
  options: WorkerRequestOptions,
  sink: StreamSink,
]

/**
 * A worker's answer to `request`: status, headers and a body to read or destroy (undici's
 * response, named here so that only this folder knows which client made it).
 */
export type WorkerResponse = Dispatcher.ResponseData

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
   * `Http1ResponseParser.passThrough`); call it from `onData`. False when the body is not chunked
   * or the transport decodes it itself (the receiver then frames what it gets).
   */
  passThrough(): boolean
  /** See `Http1ResponseParser.owedChunkBytes`; 0 without pass-through. */
  owedChunkBytes(): number
}

/** Receives a streamed answer from `WorkerTransport.stream`. */
export interface StreamSink {
  onHeaders(statusCode: number, headers: Record<string, string>): void
  /** Returns false to pause the worker's stream until `resume()`. */
  onData(chunk: Buffer): boolean
  onEnd(): void
  onError(err: unknown): void
}

/** A request id the queen passes on in a header it writes itself: visible ASCII only. */
export const SAFE_REQUEST_ID = /^[\x21-\x7e]{1,128}$/

/**
 * A connection that fails with no answer byte this soon after the request went out is taken to
 * be one the worker closed as it was reused, and the request goes again once on a new one. Later,
 * the failure is the worker's (it died or gave up while working on it): the request is not
 * replayed to the same worker, the relay decides (another worker before the first token).
 */
export const STALE_RETRY_WINDOW_MS = 1000
