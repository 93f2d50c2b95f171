import { randomUUID } from 'node:crypto'
import {
  errorMessage,
  type JobContext,
  RbeeError,
  requestDeadline,
  type StreamProtocol,
  toRbeeError,
} from '@rbee/common'
import type { OperationOf } from '@rbee/contracts'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { QUEEN_DEFAULTS } from '../queen-defaults.js'
import type { WorkerEntry } from '../registry/worker-entry.js'
import type { WorkerTransport } from '../transport/worker-transport.js'
import { clientGoneSignal } from './client-signal.js'
import { relayInfer } from './infer-relay.js'
import { KeyLimiter } from './key-limiter.js'
import { type RelayTarget, relayOpenAi, streamHeaders } from './openai-relay.js'
import { progressRequested, QueueProgress } from './queue-progress.js'
import { DEADLINE_GRACE_MS, openAiDeadline } from './request-deadline.js'
import { type KeyPriority, requestPriority, UNCAPPED } from './request-priority.js'
import { type RouteDeps, routeRequest } from './route-request.js'
import { type StallSettings, stallBounds } from './stall-watch.js'

/** Longest wait for a worker's response headers: a non-streamed answer sends them at the end. */
const WHOLE_ANSWER_TIMEOUT_MS = 600_000
const STREAM_HEADERS_TIMEOUT_MS = 60_000

/** Where an OpenAI answer goes: a fastify reply, or a connection of the queen's fast lane. */
export interface OpenAiResponder {
  /**
   * The answer becomes a stream: sends status 200 and the SSE headers (naming the worker, once one
   * is chosen); the bytes go to the target.
   */
  commit(worker: WorkerEntry | undefined): RelayTarget
  /** A whole answer (a non-streamed one, or the worker's own 4xx). */
  sendWhole(status: number, contentType: string, body: Buffer, worker: WorkerEntry): void
  /** The client went away: drop its connection. */
  destroy(): void
}

export interface InferenceRouterOptions extends RouteDeps {
  /** How requests reach workers. */
  transport: WorkerTransport
  /** Requests one API key may have queued or running; 0 for no limit. @default 32 */
  keyLimit?: number | undefined
  /** Stall bounds per request (see `stallBounds`). @default QUEEN_DEFAULTS.stall */
  stall?: StallSettings | undefined
  /** A streamed OpenAI answer gets a keep-alive comment after this long without a write; 0 = none. @default 0 */
  keepAliveMs?: number | undefined
  /**
   * A key's priority for its requests that name none (its key file's `priority=`), and the most
   * they may ask for (see `keyPriority`). @default none, uncapped
   */
  keyPriority?: ((key: string | null) => KeyPriority) | undefined
}

/** What the router needs of an OpenAI request. */
export interface OpenAiRequest {
  path: string
  model: string
  stream: boolean
  /** The body as JSON text (valid). */
  body: string
  requestId: string
  /** The caller's key fingerprint (null: keys are off), for the per-key limit. */
  key: string | null
  /** Aborted when the client goes away. */
  signal: AbortSignal
  /**
   * The request's deadline (epoch milliseconds, from `X-Request-Deadline`/`X-Request-Timeout`):
   * queue wait, spawn wait and generation all count against it.
   */
  deadlineAt?: number | undefined
  /** A streamed request asked for its queue position and spawn progress (`X-Rbee-Progress: 1`). */
  progress?: boolean | undefined
  /** Its place in the model's queue (`X-Request-Priority`); its model's priority when unset. */
  priority?: number | undefined
  /** The request goes to `worker` (each try). */
  onDispatch?: ((worker: WorkerEntry) => void) | undefined
  /** The answer's protocol when the route is another API's (Anthropic's, …); OpenAI's when unset. */
  protocol?: StreamProtocol | undefined
}

/** What the router reads of a validated OpenAI body. */
export interface OpenAiBodyFields {
  model: string
  stream?: boolean | null | undefined
  /** rbee's `timeout` extension (seconds). */
  timeout?: number | null | undefined
}

/** What a route may change about the request it hands to `openAi`. */
export interface OpenAiRouteOptions {
  /** The body to send (JSON text). @default the request's body as it came */
  body?: string
  /** The request goes to `worker` (each try). */
  onDispatch?: (worker: WorkerEntry) => void
  /** The answer's protocol when the route is another API's (Anthropic's, …); OpenAI's when unset. */
  protocol?: StreamProtocol
}

/**
 * Runs inference requests through the scheduler on workers: OpenAI requests (streamed or not)
 * proxied as they come, and `infer` jobs as `token` events. Records requests, tokens and time
 * to first token.
 */
export class InferenceRouter {
  readonly #o: InferenceRouterOptions
  readonly #perKey: KeyLimiter
  readonly #stall: StallSettings

  constructor(options: InferenceRouterOptions) {
    this.#o = options
    this.#perKey = new KeyLimiter(options.keyLimit ?? QUEEN_DEFAULTS.keyLimit)
    this.#stall = options.stall ?? QUEEN_DEFAULTS.stall
  }

  #outcome(err: unknown): string {
    if (err instanceof RbeeError) {
      if (err.code === 'RBEE_QUEUE_FULL') return 'queue_full'
      if (err.code === 'RBEE_QUEUE_TIMEOUT') return 'queue_timeout'
      if (err.code === 'RBEE_CANCELLED') return 'cancelled'
      if (err.code === 'RBEE_DEADLINE_EXCEEDED') return 'deadline'
      if (err.status < 500) return 'rejected'
    }
    return 'error'
  }

  /**
   * Proxies an OpenAI request (a fastify route's) to a worker serving `model`. Until the first
   * token the answer can still be an ordinary error (thrown, so the server answers in OpenAI's
   * shape); from then on the reply is hijacked and bytes pass straight through.
   * @throws RbeeError `RBEE_VALIDATION` (400) for a malformed or past deadline header, or a
   * malformed `X-Rbee-Progress`.
   */
  async openAi(
    req: FastifyRequest,
    reply: FastifyReply,
    path: string,
    parsed: OpenAiBodyFields,
    options: OpenAiRouteOptions = {},
  ): Promise<void> {
    const requestId = (req.headers['x-request-id'] as string | undefined) ?? randomUUID()
    const deadlineAt = openAiDeadline(requestDeadline(req.headers), parsed.timeout)
    const { model } = parsed
    const stream = parsed.stream === true
    // Refused on a whole answer, which has no stream to carry the news.
    const progress = progressRequested(req.headers, stream)
    const priority = requestPriority(req.headers)
    await this.openAiOn(
      {
        commit: (worker) => this.#hijack(reply, worker, requestId, options.protocol?.contentType),
        sendWhole: (status, contentType, buf, worker) => {
          reply.code(status).header('content-type', contentType).header('x-rbee-worker', worker.id).send(buf)
        },
        destroy: () => {
          reply.hijack()
          reply.raw.destroy()
        },
      },
      {
        path,
        model,
        stream,
        body: options.body ?? JSON.stringify(req.body),
        requestId,
        key: req.caller.key,
        signal: clientGoneSignal(reply),
        deadlineAt,
        progress,
        priority,
        onDispatch: options.onDispatch,
        protocol: options.protocol,
      },
    )
  }

  /**
   * Proxies an OpenAI request to a worker serving `model`, answering through `to`. Errors
   * before anything was sent are thrown for the caller to answer (or, on a stream a `progress`
   * request opened early, written as its last frame); a client that went away (`signal`) gets its
   * connection destroyed.
   */
  async openAiOn(to: OpenAiResponder, r: OpenAiRequest): Promise<void> {
    const { metrics } = this.#o
    const { path, model, body, requestId, signal, deadlineAt } = r
    // `chat/completions`, `rerank`, `api/embed`: the path without the OpenAI prefix.
    const route = path.replace(/^\/(?:v1\/)?/, '')
    const started = performance.now()
    const progress =
      r.progress && r.stream
        ? new QueueProgress(() => to.commit(undefined), this.#o.logger, r.protocol)
        : undefined
    let committed = false
    let release: (() => void) | undefined
    try {
      release = this.#perKey.acquire(r.key)
      const kp = this.#o.keyPriority?.(r.key) ?? UNCAPPED
      const outcome = await routeRequest(
        this.#o,
        model,
        {
          signal,
          deadlineAt,
          priority: r.priority ?? kp.default,
          maxPriority: kp.max,
          onDispatch: r.onDispatch,
          onQueued:
            progress && ((position, depth) => progress.say(`queued: position ${position} of ${depth}`)),
          onSpawn: progress && ((human) => progress.say(`spawn: ${human}`)),
          // A whole answer shows no progress until its end: only its worker's liveness (its
          // hive's probe) and the headers timeout bound it.
          ...(r.stream
            ? { stall: (w: WorkerEntry) => stallBounds(this.#stall, body.length, w.liveness) }
            : {}),
        },
        async (worker, _attempt, trySignal, tokenProgress) => {
          // Streamed or not, over the queen's own pooled connections: a stream's frames pass
          // through from the first token, a whole answer (or the worker's 4xx) is read whole
          // and sent as one.
          return relayOpenAi({
            transport: this.#o.transport,
            worker,
            path,
            body,
            signal: trySignal,
            requestId,
            deadlineAt,
            // A whole answer may take as long as its deadline allows (the deadline itself ends
            // it, as a 504, not as a worker failure to retry).
            headersTimeoutMs: r.stream
              ? STREAM_HEADERS_TIMEOUT_MS
              : deadlineAt === undefined
                ? WHOLE_ANSWER_TIMEOUT_MS
                : Math.max(WHOLE_ANSWER_TIMEOUT_MS, deadlineAt - Date.now() + DEADLINE_GRACE_MS),
            commit: () => {
              committed = true
              return progress?.target ?? to.commit(worker)
            },
            sendWhole: (status, contentType, buf) => {
              committed = true
              if (progress?.target) progress.endWith(buf)
              else to.sendWhole(status, contentType, buf, worker)
            },
            onFirstToken: () => metrics.firstToken({ route, model }, (performance.now() - started) / 1000),
            protocol: r.protocol,
            onProgress: () => tokenProgress.token(),
            keepAliveMs: this.#o.keepAliveMs,
          })
        },
        () => committed,
      )
      metrics.requestEnded({ route, model, outcome: outcome.outcome }, outcome.tokens)
    } catch (err) {
      metrics.requestEnded({ route, model, outcome: signal.aborted ? 'cancelled' : this.#outcome(err) }, 0)
      if (signal.aborted) {
        to.destroy()
        return
      }
      if (progress?.fail(toRbeeError(err))) return
      throw err
    } finally {
      release?.()
    }
  }

  #hijack(
    reply: FastifyReply,
    worker: WorkerEntry | undefined,
    requestId: string,
    contentType?: string,
  ): RelayTarget {
    reply.hijack()
    const res = reply.raw
    // No Connection header: node:http keeps the connection or closes it as the client asked.
    res.writeHead(200, streamHeaders(worker?.id, requestId, contentType))
    res.socket?.setNoDelay(true)
    return res
  }

  /** The `infer` operation: tokens become the job's `token` events as they are generated. */
  async infer(op: OperationOf<'infer'>, ctx: JobContext): Promise<void> {
    const { metrics } = this.#o
    // The job's deadline (its `timeout`) reaches the worker as a header, like every other.
    const { operation: _op, model, prompt, hive_id: hiveId, timeout: _t, priority, ...sampling } = op
    const { deadlineAt } = ctx
    const body = JSON.stringify({ prompt, ...sampling, request_id: ctx.id })
    const started = performance.now()
    let tokens = 0
    let release: (() => void) | undefined
    try {
      release = this.#perKey.acquire(ctx.owner)
      const kp = this.#o.keyPriority?.(ctx.owner) ?? UNCAPPED
      const end = await routeRequest(
        this.#o,
        model,
        {
          signal: ctx.signal,
          deadlineAt,
          hiveId,
          priority: priority ?? kp.default,
          maxPriority: kp.max,
          onQueued: (position, depth) =>
            ctx.narrate(
              'queued',
              this.#o.registry.workersForModel(model).size === 0
                ? `no worker serves ${model} yet: waiting for one, position ${position} of ${depth}`
                : `all slots for ${model} are busy: waiting, position ${position} of ${depth}`,
            ),
          onSpawn: (human) => ctx.narrate('spawn', human),
          onDispatch: (w, attempt) =>
            ctx.narrate(
              'dispatch',
              `running on worker ${w.id}${w.hiveId ? ` of hive ${w.hiveId}` : ''}${attempt > 1 ? ` (try ${attempt})` : ''}`,
            ),
          onRetry: (err, w) =>
            ctx.narrate(
              'retry',
              `worker ${w.id} failed before the first token (${err.message}); trying again`,
            ),
          stall: (w) => stallBounds(this.#stall, prompt.length, w.liveness),
        },
        async (worker, _attempt, trySignal, progress) => {
          const res = await this.#o.transport.request(worker, '/v1/infer', body, {
            signal: trySignal,
            requestId: ctx.id,
            headersTimeoutMs: STREAM_HEADERS_TIMEOUT_MS,
            deadlineAt,
          })
          if (res.statusCode !== 200) throw await this.#o.transport.failure(worker, res)
          const end = await relayInfer(res, {
            worker,
            signal: trySignal,
            onFirstToken: () =>
              metrics.firstToken({ route: 'job', model }, (performance.now() - started) / 1000),
            onToken: (t, i) => {
              tokens++
              progress.token()
              ctx.token(t, i)
            },
          })
          return { end, worker }
        },
        () => tokens > 0,
      )
      ctx.data('infer', {
        worker_id: end.worker.id,
        hive_id: end.worker.hiveId,
        tokens_out: end.end.tokens_out,
        stop_reason: end.end.stop_reason,
        timings: end.end.timings,
      })
      metrics.requestEnded({ route: 'job', model, outcome: 'ok' }, tokens)
    } catch (err) {
      metrics.requestEnded(
        { route: 'job', model, outcome: ctx.signal.aborted ? 'cancelled' : this.#outcome(err) },
        tokens,
      )
      if (!ctx.signal.aborted) ctx.log.warn({ err: errorMessage(err), model, tokens }, 'infer failed')
      throw err
    } finally {
      release?.()
    }
  }
}
