import {
  countMarks,
  type ErrorCode,
  errorMessage,
  isDeadlineExceeded,
  openAiErrorBody,
  parseJson,
  RbeeError,
  type StreamProtocol,
} from '@rbee/common'
import type { WorkerEntry } from '../registry/worker-entry.js'
import { failureFrom, transportFailure, WorkerFailure } from '../transport/worker-failure.js'
import type { StreamSink, WorkerTransport } from '../transport/worker-transport.js'

/** The most of a worker's whole (not streamed) answer the relay holds (embeddings of 256 long inputs are ~25 MB). */
const WORKER_ANSWER_MAX_BYTES = 256 * 1024 * 1024
/** The most of a streamed answer held while looking for its first token frame. */
const WORKER_FIRST_FRAMES_MAX_CHARS = 8 * 1024 * 1024

/** Where a relayed stream's bytes go (a `ServerResponse` is one). */
export interface RelayTarget {
  /** Writes one piece of the stream; false when the client's socket is full. */
  write(chunk: Buffer): boolean
  /**
   * Writes bytes already in HTTP/1.1 chunked coding (a target that writes that coding itself
   * has this); false when the client's socket is full.
   */
  writeChunked?(bytes: Buffer): boolean
  /** Ends the stream, after `last` if given. */
  end(last?: string): void
  destroy(): void
  readonly destroyed: boolean
  on(event: 'drain', listener: () => void): unknown
}

/**
 * The head of a relayed stream, however it is written (fastify reply or fast lane); without a
 * worker when the stream opens before one is chosen (`X-Rbee-Progress`).
 */
export function streamHeaders(
  workerId: string | undefined,
  requestId: string,
  contentType = 'text/event-stream',
): Record<string, string> {
  return {
    'content-type': `${contentType}; charset=utf-8`,
    'cache-control': 'no-cache, no-transform',
    'x-accel-buffering': 'no',
    'x-request-id': requestId,
    ...(workerId === undefined ? {} : { 'x-rbee-worker': workerId }),
  }
}

/** How a relayed stream ended. */
export interface RelayOutcome {
  outcome: 'ok' | 'error' | 'cancelled' | 'rejected' | 'deadline'
  tokens: number
  message?: string
}

const FRAME_END = '\n\n'
const DONE_FRAME = 'data: [DONE]'
/** How a stream's error frame starts (rbee's, in OpenAI's error shape). */
const ERROR_FRAME = 'data: {"error":'
const TOKEN_MARK = Buffer.from('"finish_reason":null')
/** Bytes that carry an event (a worker's own keep-alive comments do not). */
const DATA_MARK = Buffer.from('data:')
const KEEP_ALIVE = Buffer.from(': keep-alive\n\n')

/** Whether `buf` ends with the text `end`. */
function endsWith(buf: Buffer, end: string): boolean {
  return buf.length >= end.length && buf.toString('latin1', buf.length - end.length) === end
}

/** Whether the bytes written last end an SSE frame (in chunked coding: and the chunk). */
function endsFrame(tail: Buffer | undefined, chunked: boolean): boolean {
  if (tail === undefined) return false
  const end = tail.subarray(-4).toString('latin1')
  return chunked ? end === '\n\n\r\n' : end.endsWith('\n\n')
}

/**
 * Decides whether an OpenAI stream frame (before anything was sent) carries output: text, a piece
 * of a tool call, or the end. The role chunk a chat stream opens with carries none: holding it
 * back lets the request move to another worker if this one fails before the first token.
 */
function frameCommits(frame: string, worker: WorkerEntry): boolean {
  // The common cases without JSON parsing: a text or content delta that is not empty.
  if (/"(?:text|content)":"[^"]/.test(frame)) return true
  const data = frame
    .split('\n')
    .filter((l) => l.startsWith('data:'))
    .map((l) => l.slice(5).trimStart())
    .join('\n')
  if (data === '') return false
  if (data === '[DONE]') return true
  let chunk: {
    error?: { message?: string; code?: string }
    choices?: Array<{
      delta?: { content?: string; tool_calls?: unknown[] }
      text?: string
      finish_reason?: string | null
    }>
  }
  try {
    chunk = parseJson(data) as typeof chunk
  } catch {
    return true
  }
  if (chunk.error?.code === 'RBEE_DEADLINE_EXCEEDED') {
    // The worker ended the request at its deadline before any output: a 504, not a retry.
    throw new RbeeError('RBEE_DEADLINE_EXCEEDED', chunk.error.message ?? 'deadline exceeded')
  }
  if (chunk.error) {
    throw new WorkerFailure(
      worker.id,
      `worker ${worker.id} failed before the first token: ${chunk.error.message}`,
      {
        retryable: true,
        quarantine: false,
        status: 502,
      },
    )
  }
  const c = chunk.choices?.[0]
  if (!c) return true
  return (
    Boolean(c.delta?.content) ||
    (c.delta?.tool_calls?.length ?? 0) > 0 ||
    Boolean(c.text) ||
    (c.finish_reason ?? null) !== null
  )
}

function countTokens(buf: Buffer): number {
  let n = 0
  for (let i = buf.indexOf(TOKEN_MARK); i >= 0; i = buf.indexOf(TOKEN_MARK, i + TOKEN_MARK.length)) n++
  return n
}

export interface OpenAiRelayOptions {
  transport: WorkerTransport
  worker: WorkerEntry
  path: string
  /** The request body, JSON text. */
  body: string
  signal: AbortSignal
  requestId: string
  headersTimeoutMs: number
  /** The request's deadline (epoch milliseconds), passed on to the worker. */
  deadlineAt?: number | undefined
  /** Called once, when the response turns into a stream: sends the head, returns where bytes go. */
  commit: () => RelayTarget
  /** A whole (non-SSE) answer, e.g. the worker's 4xx: send it as is. */
  sendWhole: (statusCode: number, contentType: string, body: Buffer) => void
  /** When the first output has been sent: the first token frame, or a whole answer with status 200. */
  onFirstToken: () => void
  /** Output arrived from the worker: the first token frame, then every chunk with an event. */
  onProgress?: () => void
  /** Once streaming, a keep-alive comment goes to the client after this long without a write; 0 = none. */
  keepAliveMs?: number
  /** The stream's protocol when it is another API's than OpenAI's (Anthropic's, …). */
  protocol?: StreamProtocol | undefined
}

/** Whether a frame commits the answer, by the request's protocol (OpenAI's when none). */
function commits(frame: string, worker: WorkerEntry, protocol: StreamProtocol | undefined): boolean {
  if (protocol === undefined) return frameCommits(frame, worker)
  const kind = protocol.classify(frame)
  if (kind === 'hold' || kind === 'output') return kind === 'output'
  // The worker ended the request at its deadline before any output: a 504, not a retry.
  if (kind.code === 'RBEE_DEADLINE_EXCEEDED') throw new RbeeError('RBEE_DEADLINE_EXCEEDED', kind.error)
  throw new WorkerFailure(worker.id, `worker ${worker.id} failed before the first token: ${kind.error}`, {
    retryable: true,
    quarantine: false,
    status: 502,
  })
}

/**
 * Proxies one OpenAI request to a worker and relays its answer. An SSE answer is relayed as it
 * comes: frames are held only until the first one with output, then bytes pass through unparsed
 * (token frames are counted by a byte search; a target that writes chunked coding itself, the
 * fast lane, gets them in the worker's own chunks), the worker paused while the client's socket
 * is full. Any other answer (a non-streamed one, or the worker's 4xx) is read whole and goes to
 * `sendWhole`. A worker failure before the first output rejects with a retryable
 * `WorkerFailure`; after it, the client gets an OpenAI error frame and the stream ends.
 */
export function relayOpenAi(o: OpenAiRelayOptions): Promise<RelayOutcome> {
  const p = o.protocol
  const frameEnd = p?.frameEnd ?? FRAME_END
  const tokensIn = (buf: Buffer): number => (p ? countMarks(buf, p.tokenMarks) : countTokens(buf))
  // A stream that is not SSE (NDJSON) has no comments: every byte is an event, and none is added.
  const sse = p?.frame === undefined
  const eventful = (chunk: Buffer): boolean => !sse || chunk.indexOf(DATA_MARK) >= 0
  return new Promise<RelayOutcome>((resolve, reject) => {
    let mode: 'sse' | 'whole' | 'failed' = 'whole'
    let status = 0
    let headers: Record<string, string> = {}
    const collected: Buffer[] = []
    let collectedBytes = 0
    let res: RelayTarget | undefined
    let pending = ''
    let tokens = 0
    /** The stream's last bytes (64 or more when there are), to see how it ended. */
    let tail: Buffer | undefined
    /** The piece before the last one (an error frame can be followed by the chunk framing alone). */
    let before: Buffer | undefined
    /** Bytes go to `res.writeChunked` as the worker framed them. */
    let chunked = false
    let settled = false
    let lastWriteAt = 0
    let keepAlive: NodeJS.Timeout | undefined
    const onProgress = o.onProgress
    /**
     * Ends the stream with an error frame. A worker that stopped in the middle of a chunk passed
     * through leaves it open: it is closed first (its rest as newlines), so the client's HTTP
     * framing stays whole.
     */
    const fail = (
      target: RelayTarget,
      why: string | RbeeError,
      code: ErrorCode = 'RBEE_WORKER_FAILED',
    ): RelayOutcome => {
      const owed = chunked ? control.owedChunkBytes() : 0
      if (owed > 0 && !target.destroyed)
        target.writeChunked!(Buffer.from(`${'\n'.repeat(owed - 2)}\r\n`, 'latin1'))
      else if (!chunked && tail !== undefined && !target.destroyed && !endsWith(tail, frameEnd))
        // Written piece by piece, a stream cut inside a frame gets that frame ended, so the error
        // frame is not glued to its half.
        target.write(Buffer.from(frameEnd, 'latin1'))
      return endWithError(target, o.worker, tokens, why, code, p)
    }
    /**
     * While the worker is silent (a long pause between tokens), a comment at a frame boundary
     * keeps the client's stream alive; none in the middle of a frame or of a passed-through chunk.
     */
    const startKeepAlive = (target: RelayTarget): void => {
      const every = sse ? (o.keepAliveMs ?? 0) : 0
      if (every <= 0) return
      keepAlive = setInterval(() => {
        if (settled || target.destroyed || performance.now() - lastWriteAt < every) return
        if ((chunked && control.owedChunkBytes() > 0) || !endsFrame(tail, chunked)) return
        target.write(KEEP_ALIVE)
        lastWriteAt = performance.now()
      }, every)
      keepAlive.unref()
    }
    const settle = (outcome: RelayOutcome | Error): void => {
      if (settled) return
      settled = true
      clearInterval(keepAlive)
      o.signal.removeEventListener('abort', onAbort)
      if (outcome instanceof Error) reject(outcome)
      else resolve(outcome)
    }
    const onAbort = (): void => {
      const reason: unknown = o.signal.reason
      if (isDeadlineExceeded(reason)) {
        // Past the deadline: a 504 before any output, a final error frame after.
        settle(res ? fail(res, reason) : reason)
        return
      }
      if (reason instanceof WorkerFailure) {
        // The worker was lost (its hive went offline): before any output the request may move to
        // another worker; after, the client gets a clean error instead of a stalled stream.
        settle(res ? fail(res, reason.message, reason.code) : reason)
        return
      }
      res?.destroy()
      settle({ outcome: 'cancelled', tokens })
    }
    if (o.signal.aborted) {
      onAbort()
      return
    }
    o.signal.addEventListener('abort', onAbort, { once: true })
    const sink: StreamSink = {
      onHeaders(statusCode, h) {
        status = statusCode
        headers = h
        const ct = h['content-type'] ?? ''
        mode =
          statusCode >= 500
            ? 'failed'
            : statusCode === 200 && ct.startsWith(p?.contentType ?? 'text/event-stream')
              ? 'sse'
              : 'whole'
      },
      onData(chunk) {
        if (settled) return true
        if (mode !== 'sse') {
          collectedBytes += chunk.length
          if (collectedBytes > WORKER_ANSWER_MAX_BYTES) {
            // A worker's whole answer is held until it ends: one that never ends must not grow it.
            settle(
              transportFailure(o.worker, new Error(`its answer is over ${WORKER_ANSWER_MAX_BYTES} bytes`)),
            )
            return true
          }
          collected.push(chunk)
          return true
        }
        if (res) {
          tokens += tokensIn(chunk)
          before = tail
          if (onProgress && eventful(chunk)) onProgress()
          tail = tail === undefined || chunk.length >= 64 ? chunk : Buffer.concat([tail.subarray(-64), chunk])
          if (keepAlive) lastWriteAt = performance.now()
          return chunked ? res.writeChunked!(chunk) : res.write(chunk)
        }
        pending += chunk.toString('utf8')
        if (pending.length > WORKER_FIRST_FRAMES_MAX_CHARS) {
          // Frames before the first token are a role chunk or two: more is not a stream.
          settle(transportFailure(o.worker, new Error('no token frame within its first 8 MiB')))
          return true
        }
        let scanFrom = 0
        let skipped = 0
        let committed = false
        try {
          for (let end = pending.indexOf(frameEnd); end >= 0; end = pending.indexOf(frameEnd, scanFrom)) {
            const frame = pending.slice(scanFrom, end)
            scanFrom = end + frameEnd.length
            if (commits(frame, o.worker, p)) {
              committed = true
              break
            }
            skipped++
          }
        } catch (err) {
          settle(err instanceof Error ? err : new Error(String(err)))
          return true
        }
        if (!committed) return true
        res = o.commit()
        res.on('drain', control.resume)
        const held = Buffer.from(pending, 'utf8')
        pending = ''
        const more = res.write(held)
        // The rest of the answer passes in the worker's chunked coding where the target can.
        chunked = res.writeChunked !== undefined && control.passThrough()
        // Bookkeeping after the write, so it never delays the first token.
        o.onFirstToken()
        onProgress?.()
        lastWriteAt = performance.now()
        startKeepAlive(res)
        // Frames held back before the first output (the role chunk) are not tokens.
        tokens += Math.max(0, tokensIn(held) - (p ? 0 : skipped))
        tail = held
        return more
      },
      onEnd() {
        if (settled) return
        const whole = Buffer.concat(collected)
        if (mode === 'failed') {
          settle(failureFrom(o.worker, status, headers, whole.toString('utf8')))
          return
        }
        if (mode === 'whole') {
          o.sendWhole(status, headers['content-type'] ?? 'application/json', whole)
          if (status !== 200) {
            settle({ outcome: 'rejected', tokens: 0 })
            return
          }
          o.onFirstToken()
          settle({ outcome: 'ok', tokens: p ? wholeTokens(whole, p) : completionTokens(whole) })
          return
        }
        if (!res) {
          // The worker closed the stream before any output: as good as a dropped connection.
          settle(transportFailure(o.worker, new Error('stream ended before the first token')))
          return
        }
        const last = tail!.subarray(-64).toString('latin1')
        if (!(p?.endMarks ?? [DONE_FRAME]).some((m) => last.includes(m))) {
          const lastBytes = before === undefined ? tail! : Buffer.concat([before, tail!])
          const ended = p ? p.endedWithError(lastBytes.toString('utf8')) : endedWithError(lastBytes)
          if (ended !== undefined) {
            // The worker ended the stream with its own error frame (its deadline, say): that
            // frame is the client's last word.
            res.end()
            settle({ outcome: ended === 'RBEE_DEADLINE_EXCEEDED' ? 'deadline' : 'error', tokens })
            return
          }
          settle(fail(res, p ? 'stream ended before its last event' : 'stream ended without [DONE]'))
          return
        }
        res.end()
        settle({ outcome: 'ok', tokens })
      },
      onError(err) {
        if (settled) return
        if (o.signal.aborted) return onAbort()
        if (!res) settle(err instanceof Error ? err : new Error(String(err)))
        else settle(fail(res, errorMessage(err)))
      },
    }
    const control = o.transport.stream(
      o.worker,
      o.path,
      o.body,
      {
        signal: o.signal,
        requestId: o.requestId,
        headersTimeoutMs: o.headersTimeoutMs,
        deadlineAt: o.deadlineAt,
      },
      sink,
    )
  })
}

/**
 * Ends a stream with an error frame: the worker's failure (`why` as text, with `code`), or the
 * error given (a deadline that passed).
 */
function endWithError(
  res: RelayTarget,
  worker: WorkerEntry,
  tokens: number,
  why: string | RbeeError,
  code: ErrorCode,
  protocol: StreamProtocol | undefined,
): RelayOutcome {
  const error =
    typeof why === 'string'
      ? new RbeeError(code, `worker ${worker.id} failed mid-stream after ${tokens} tokens: ${why}`)
      : new RbeeError(why.code, `${why.message} (after ${tokens} tokens)`)
  if (!res.destroyed)
    res.end(protocol ? protocol.errorFrame(error) : `data: ${JSON.stringify(openAiErrorBody(error))}\n\n`)
  return { outcome: isDeadlineExceeded(error) ? 'deadline' : 'error', tokens, message: error.message }
}

/**
 * The code of the error frame a stream's bytes end with, if they end with one (`tail`: the last
 * pieces the worker sent; an error frame is written at once, and passed-through chunk framing may
 * follow it).
 */
function endedWithError(tail: Buffer): string | undefined {
  const text = tail.toString('utf8')
  const start = text.lastIndexOf(ERROR_FRAME)
  if (start < 0) return undefined
  const end = text.indexOf('\n\n', start)
  if (end < 0 || !/^[\s0-9a-fA-F]*$/.test(text.slice(end))) return undefined
  try {
    const body = parseJson(text.slice(start + 'data: '.length, end)) as { error?: { code?: unknown } }
    return typeof body.error?.code === 'string' ? body.error.code : 'RBEE_WORKER_FAILED'
  } catch {
    return undefined
  }
}

/** `usage.completion_tokens` of a whole OpenAI answer, 0 if absent. */
function completionTokens(buf: Buffer): number {
  try {
    const n = (parseJson(buf.toString('utf8')) as { usage?: { completion_tokens?: unknown } }).usage
      ?.completion_tokens
    return typeof n === 'number' ? n : 0
  } catch {
    return 0
  }
}

/** The output tokens a whole answer of another API reports, 0 if it is not JSON. */
function wholeTokens(buf: Buffer, protocol: StreamProtocol): number {
  try {
    return protocol.wholeTokens(parseJson(buf.toString('utf8')))
  } catch {
    return 0
  }
}
