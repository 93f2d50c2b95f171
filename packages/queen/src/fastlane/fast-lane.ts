import { randomUUID } from 'node:crypto'
import type { Socket } from 'node:net'
import {
  type Access,
  type AuditLog,
  type Authenticator,
  type ConnectionFront,
  forClient,
  jsonNestsDeeperThan,
  type Logger,
  openAiErrorBody,
  RbeeError,
  type RequestDeadlines,
  requestDeadline,
  retryAfterHeader,
  toRbeeError,
} from '@rbee/common'
import { ChatCompletionRequestSchema, CompletionRequestSchema } from '@rbee/contracts'
import type { QueenMetrics } from '../metrics.js'
import type { InferenceRouter } from '../proxy/inference-router.js'
import { streamHeaders } from '../proxy/openai-relay.js'
import { progressRequested } from '../proxy/queue-progress.js'
import { openAiDeadline } from '../proxy/request-deadline.js'
import { requestPriority } from '../proxy/request-priority.js'
import { SAFE_REQUEST_ID } from '../transport/worker-transport.js'
import { ArrivalDeadline, type ArrivalPhase } from './arrival-deadline.js'
import { LaneResponse } from './lane-response.js'
import { parseRequestHead, type RequestHead } from './request-head.js'

/**
 * The routes the lane serves (matched on the exact path as sent; any other spelling goes to the
 * HTTP server's router), who may call them, and the schema their bodies must pass.
 */
const ROUTES: Record<
  string,
  { access: Access; schema: typeof ChatCompletionRequestSchema | typeof CompletionRequestSchema }
> = {
  '/v1/chat/completions': { access: 'user', schema: ChatCompletionRequestSchema },
  '/v1/completions': { access: 'user', schema: CompletionRequestSchema },
}
const HEAD_END = Buffer.from('\r\n\r\n')
const POST = Buffer.from('POST ')
const EMPTY = Buffer.alloc(0)
/** node:http's own limit on a request head. */
const MAX_HEAD = 16 * 1024
/** An idle kept-alive connection is closed after this (fastify's keep-alive timeout). */
const IDLE_MS = 72_000
/** What node:http answers a request that does not arrive in time. */
const REQUEST_TIMEOUT = 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n'

export interface FastLaneOptions {
  router: InferenceRouter
  metrics: QueenMetrics
  /** The queen's credentials; a request the route's access refuses goes to the HTTP server, which answers 401/403. */
  auth: Authenticator
  /** Where the first use of a key from an address is recorded. */
  audit?: AuditLog | undefined
  bodyLimit: number
  draining: () => boolean
  logger: Logger
  /** How long a request may take to arrive (the HTTP server's own deadlines). */
  deadlines: RequestDeadlines
}

/**
 * The queen's fast lane: OpenAI completions, the hot path, served straight off the socket
 * without node:http and fastify (measured: most of a Node proxy's added latency is in them). It
 * takes only well-formed, authorised, valid requests on `/v1/chat/completions` and
 * `/v1/completions`, streamed or not; at the first request it does not take it hands the
 * connection, with the bytes it read, to the HTTP server, which answers as always (400s with
 * field paths, 401s, every other route).
 */
export class FastLane {
  readonly #o: FastLaneOptions

  constructor(options: FastLaneOptions) {
    this.#o = options
  }

  /** The queen's HTTP server calls this for every new connection. */
  readonly front: ConnectionFront = (socket, toApp) => {
    new LaneConnection(this.#o, socket, toApp).start()
  }
}

/** A request the lane serves, taken off the connection's buffer. */
interface LaneRequest {
  head: RequestHead
  /** The body as the client sent it (JSON text, valid). */
  body: string
  model: string
  stream: boolean
  /** The caller's key fingerprint (null when keys are off). */
  key: string | null
  /** Whether the caller may read server-side error details. */
  disclose: boolean
  /** From `X-Request-Deadline`/`X-Request-Timeout` (epoch milliseconds). */
  deadlineAt: number | undefined
  /** `X-Rbee-Progress: 1`. */
  progress: boolean
  /** `X-Request-Priority`. */
  priority: number | undefined
}

/** One client connection while the lane holds it. */
class LaneConnection {
  readonly #o: FastLaneOptions
  readonly #socket: Socket
  readonly #toApp: (buffered: Buffer) => void
  #buf: Buffer = EMPTY
  #busy = false
  #current: { ac: AbortController; res: LaneResponse } | undefined
  readonly #deadline: ArrivalDeadline

  constructor(o: FastLaneOptions, socket: Socket, toApp: (buffered: Buffer) => void) {
    this.#o = o
    this.#socket = socket
    this.#toApp = toApp
    this.#deadline = new ArrivalDeadline(o.deadlines, this.#expire)
  }

  start(): void {
    this.#socket.setTimeout(IDLE_MS)
    for (const [event, fn] of this.#listeners) this.#socket.on(event, fn)
  }

  readonly #onData = (data: Buffer): void => {
    this.#buf = this.#buf.length > 0 ? Buffer.concat([this.#buf, data]) : data
    if (!this.#busy) this.#next()
    // Requests sent ahead while one is answered wait in the buffer, up to one more request's
    // worth; beyond that the connection stops being read until the answer is done.
    else if (this.#buf.length > MAX_HEAD + this.#o.bodyLimit) this.#socket.pause()
  }

  /** The client closed its side: as node:http does (no half-open HTTP), the connection is over. */
  readonly #onEnd = (): void => {
    this.#socket.destroy()
  }

  readonly #onClose = (): void => {
    this.#deadline.clear()
    const cur = this.#current
    if (!cur) return
    cur.ac.abort(new RbeeError('RBEE_CANCELLED', 'client disconnected'))
    cur.res.closed()
  }

  readonly #onError = (): void => {
    // 'close' follows.
  }

  readonly #onTimeout = (): void => {
    if (!this.#busy) this.#socket.destroy()
  }

  /** The request did not arrive in time: a 408, as node:http answers, and the connection closes. */
  readonly #expire = (phase: ArrivalPhase): void => {
    this.#o.logger.debug({ phase }, 'request did not arrive in time; connection closed')
    this.#socket.off('data', this.#onData)
    this.#socket.pause()
    this.#buf = EMPTY
    this.#socket.end(REQUEST_TIMEOUT, () => this.#socket.destroy())
  }

  /** What the lane listens to on its socket while it has it (all removed at hand-off). */
  readonly #listeners: ReadonlyArray<[string, (data: Buffer) => void]> = [
    ['data', this.#onData],
    ['end', this.#onEnd],
    ['close', this.#onClose],
    ['error', this.#onError],
    ['timeout', this.#onTimeout],
  ]

  #handOff(): void {
    for (const [event, fn] of this.#listeners) this.#socket.off(event, fn)
    this.#socket.setTimeout(0)
    const buffered = this.#buf
    this.#buf = EMPTY
    this.#toApp(buffered)
  }

  /** Serves the next buffered request if the lane takes it, or hands the connection over. */
  #next(): void {
    const next = this.#take()
    if (next === 'wait') return
    if (next === 'wait-head' || next === 'wait-body') {
      this.#deadline.waiting(next === 'wait-head' ? 'head' : 'body')
      return
    }
    this.#deadline.clear()
    if (next === 'hand-off') this.#handOff()
    else {
      this.#serve(next).catch((err: unknown) => {
        this.#o.logger.error({ err }, 'fast lane failed; connection closed')
        this.#socket.destroy()
      })
    }
  }

  /**
   * The next buffered request if the lane serves it (consumed from the buffer); else whether it
   * waits for nothing, for the rest of a head or of a body, or hands the connection over.
   */
  #take(): LaneRequest | 'wait' | 'wait-head' | 'wait-body' | 'hand-off' {
    const buf = this.#buf
    if (buf.length === 0) return 'wait'
    // Anything but a POST is for the HTTP server, as soon as that is clear.
    const n = Math.min(buf.length, POST.length)
    if (buf.compare(POST, 0, n, 0, n) !== 0) return 'hand-off'
    const end = buf.indexOf(HEAD_END)
    if (end < 0) return buf.length > MAX_HEAD ? 'hand-off' : 'wait-head'
    const o = this.#o
    const head = parseRequestHead(buf.toString('latin1', 0, end))
    const route = head ? ROUTES[head.path] : undefined
    if (!head || !route || head.contentLength > o.bodyLimit || o.draining()) return 'hand-off'
    const caller = o.auth.identify(head.headers.authorization, head.headers['x-api-key'])
    if (o.auth.refusal(route.access, caller) !== undefined) return 'hand-off'
    if (caller.key !== null)
      o.audit?.recordFirstUse(caller.key, this.#socket.remoteAddress ?? '', { role: caller.role })
    const total = end + 4 + head.contentLength
    if (buf.length < total) return 'wait-body'
    const body = buf.toString('utf8', end + 4, total)
    // node:http answers it (a 400 naming the limit).
    if (jsonNestsDeeperThan(body)) return 'hand-off'
    let json: unknown
    try {
      json = JSON.parse(body)
    } catch {
      return 'hand-off'
    }
    const parsed = route.schema.safeParse(json)
    if (!parsed.success) return 'hand-off'
    let deadlineAt: number | undefined
    let progress: boolean
    let priority: number | undefined
    try {
      deadlineAt = openAiDeadline(requestDeadline(head.headers), parsed.data.timeout)
      progress = progressRequested(head.headers, parsed.data.stream === true)
      priority = requestPriority(head.headers)
    } catch {
      // The HTTP server answers it: a 400 naming the header.
      return 'hand-off'
    }
    this.#buf = buf.subarray(total)
    return {
      head,
      body,
      model: parsed.data.model,
      stream: parsed.data.stream === true,
      key: caller.key,
      disclose: o.auth.isAdmin(caller),
      deadlineAt,
      progress,
      priority,
    }
  }

  async #serve(lane: LaneRequest): Promise<void> {
    const { head, body, model, stream, key, disclose, deadlineAt, progress, priority } = lane
    const socket = this.#socket
    this.#busy = true
    socket.setTimeout(0)
    this.#o.metrics.fastLane.inc()
    const ac = new AbortController()
    const res = new LaneResponse(socket, !head.close)
    this.#current = { ac, res }
    const given = head.headers['x-request-id']
    const requestId = given !== undefined && SAFE_REQUEST_ID.test(given) ? given : randomUUID()
    const ids = { 'x-request-id': requestId }
    try {
      await this.#o.router.openAiOn(
        {
          commit: (worker) => res.stream(200, streamHeaders(worker?.id, requestId)),
          sendWhole: (status, contentType, buf, worker) =>
            res.whole(status, { 'content-type': contentType, ...ids, 'x-rbee-worker': worker.id }, buf),
          destroy: () => res.destroy(),
        },
        {
          path: head.path,
          model,
          stream,
          body,
          requestId,
          key,
          signal: ac.signal,
          deadlineAt,
          progress,
          priority,
        },
      )
    } catch (err) {
      if (!(err instanceof RbeeError)) this.#o.logger.error({ err }, 'unhandled error in the fast lane')
      const shown = forClient(err instanceof RbeeError ? err : toRbeeError(err), disclose, this.#o.logger)
      const e = shown.error
      const retryAfter = retryAfterHeader(e)
      res.whole(
        e.status,
        {
          'content-type': 'application/json; charset=utf-8',
          ...ids,
          ...(retryAfter !== undefined ? { 'retry-after': retryAfter } : {}),
        },
        JSON.stringify(openAiErrorBody(e, shown.errorId)),
      )
    }
    if (!res.finished) res.destroy()
    const complete = await res.done
    this.#current = undefined
    this.#busy = false
    if (!complete || head.close || socket.destroyed) return
    socket.setTimeout(IDLE_MS)
    socket.resume()
    this.#next()
  }
}
