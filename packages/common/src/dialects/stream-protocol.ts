import type { RbeeError } from '../errors.js'
import { parseJson } from '../json-limits.js'
import { formatSse, type SseEvent } from '../sse/sse-writer.js'

/** An error a worker sent in a stream: its message, and rbee's code when the frame has one. */
export interface FrameError {
  error: string
  code: string | undefined
}

/** What one frame of a stream is, before the first output reached the client. */
export type FrameKind = 'hold' | 'output' | FrameError

/**
 * How the queen relays one API's stream from a worker (OpenAI chat is the built-in one): which
 * frames carry output (until then a failed request may still move to another worker), how many
 * tokens went by, how a whole stream ends, and how a stream cut off is closed for the client.
 */
export interface StreamProtocol {
  /** The content type of a streamed answer. */
  readonly contentType: string
  /** What separates frames. */
  readonly frameEnd: string
  /**
   * How a worker writes one event when the stream is not SSE (NDJSON: its data as one line). Such
   * a stream has no comments: no keep-alives, and every byte is an event.
   */
  readonly frame?: ((ev: SseEvent) => string) | undefined
  /**
   * Whether a frame carries output (`output`: the answer is now the client's), comes before any
   * (`hold`, kept back), or is an error the worker sent instead of output.
   */
  classify(frame: string): FrameKind
  /** Byte strings found once in each frame that carries a generated piece (counted as tokens). */
  readonly tokenMarks: readonly Buffer[]
  /** One of these is in the last bytes of a stream that ended as it should. */
  readonly endMarks: readonly string[]
  /** The bytes that end a stream cut off mid-way, in the API's shape. */
  errorFrame(e: RbeeError, errorId?: string): string
  /**
   * The rbee code of the error frame a stream's last bytes end with, if they end with one (the
   * worker's own last word: its deadline, say).
   */
  endedWithError(tail: string): string | undefined
  /** The output tokens a whole (non-streamed) answer reports, 0 when it says none. */
  wholeTokens(body: unknown): number
}

/** The `event:` name and `data:` text of an SSE frame. */
export function sseFrameParts(frame: string): { event: string | undefined; data: string } {
  let event: string | undefined
  const data: string[] = []
  for (const line of frame.split('\n')) {
    if (line.startsWith('event:')) event = line.slice(6).trim()
    else if (line.startsWith('data:')) data.push(line.slice(5).trimStart())
  }
  return { event, data: data.join('\n') }
}

/** Counts the occurrences of every mark in `buf`. */
export function countMarks(buf: Buffer, marks: readonly Buffer[]): number {
  let n = 0
  for (const mark of marks) {
    for (let i = buf.indexOf(mark); i >= 0; i = buf.indexOf(mark, i + mark.length)) n++
  }
  return n
}

/** An error frame's message and code: `pick` finds them in its JSON, else the text is the message. */
export function errorFrameOf(
  data: string,
  pick: (body: unknown) => { message: string; code?: string | undefined } | undefined,
): FrameError {
  try {
    const found = pick(parseJson(data))
    if (found !== undefined) return { error: found.message, code: found.code }
  } catch {
    // Not JSON: the frame's text is the message.
  }
  return { error: data, code: undefined }
}

/** `usage.output_tokens` of a whole answer (Anthropic's and the Responses API's), 0 if absent. */
export function usageOutputTokens(body: unknown): number {
  if (typeof body !== 'object' || body === null || !('usage' in body)) return 0
  const usage = body.usage
  if (typeof usage !== 'object' || usage === null || !('output_tokens' in usage)) return 0
  return typeof usage.output_tokens === 'number' ? usage.output_tokens : 0
}

/**
 * The protocol of an SSE API whose events are named (`event: …`): events in `hold` come before
 * any output, an `error` event is an error (its message found by `errorMessage`), any other event
 * carries output.
 */
export function namedEventProtocol(o: {
  hold: readonly string[]
  /** The message and code of an `error` event's data. */
  errorOf: (body: unknown) => { message: string; code?: string | undefined } | undefined
  tokenMarks: readonly string[]
  endMarks: readonly string[]
  errorData: (e: RbeeError, errorId?: string) => unknown
}): StreamProtocol {
  const hold = new Set(o.hold)
  return {
    contentType: 'text/event-stream',
    frameEnd: '\n\n',
    classify(frame) {
      const { event, data } = sseFrameParts(frame)
      if (event === 'error') return errorFrameOf(data, o.errorOf)
      return event === undefined || hold.has(event) ? 'hold' : 'output'
    },
    tokenMarks: o.tokenMarks.map((m) => Buffer.from(m)),
    endMarks: o.endMarks,
    errorFrame: (e, errorId) => formatSse({ event: 'error', data: o.errorData(e, errorId) }),
    endedWithError(tail) {
      const start = tail.lastIndexOf(ERROR_EVENT)
      if (start < 0) return undefined
      const end = tail.indexOf('\n\n', start)
      // Only chunk framing (hex sizes, CRLFs) may follow the frame.
      if (end < 0 || !/^[\s0-9a-fA-F]*$/.test(tail.slice(end))) return undefined
      return errorFrameOf(sseFrameParts(tail.slice(start, end)).data, o.errorOf).code ?? 'RBEE_WORKER_FAILED'
    },
    wholeTokens: usageOutputTokens,
  }
}

const ERROR_EVENT = 'event: error\n'
