import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  ChatTool,
  ChatToolCallDelta,
  Timings,
} from '@rbee/contracts'
import type { RbeeError } from '../errors.js'
import type { SseEvent } from '../sse/sse-writer.js'
import type { StreamProtocol } from './stream-protocol.js'

/** What a worker knows when a chat turn starts streaming (it holds a slot, the prompt is read). */
export interface TurnStart {
  promptTokens: number
}

/** What a worker knows once a chat turn has ended. */
export interface TurnEnd {
  promptTokens: number
  completionTokens: number
  /** The stop sequence that ended the turn, if one did. */
  stopSequence: string | null
  timings: Timings
}

/**
 * Turns one chat turn, as OpenAI chat chunks (text and tool call pieces, finish reason), into a
 * dialect's stream events. One per request; it keeps the stream's state (open blocks, indexes).
 */
export interface DialectStream {
  /** The events that open the stream. */
  start(s: TurnStart): SseEvent[]
  /** The events for one chunk. */
  chunk(c: ChatCompletionChunk): SseEvent[]
  /** The events that close the stream, after its last chunk. */
  end(e: TurnEnd): SseEvent[]
  /** The event that ends a stream that failed after it started. */
  error(e: RbeeError): SseEvent[]
}

/**
 * An API dialect (Anthropic Messages, OpenAI Responses, …) served over rbee's one internal
 * shape, an OpenAI chat completion request, which workers run (tools and response formats
 * included). A worker translates each request and its answer; the queen validates the request,
 * routes it by model like any other and relays the worker's answer (`protocol`).
 */
export interface Dialect<Req> {
  /** Its name in logs and messages (`anthropic`). */
  readonly name: string
  /**
   * Parses a body with the dialect's schema.
   * @throws RbeeError `RBEE_VALIDATION` naming every bad or refused field.
   */
  parse(body: unknown): Req
  model(req: Req): string
  streamed(req: Req): boolean
  /**
   * The chat request that runs it.
   * @throws RbeeError `RBEE_VALIDATION` for what only the translation can see.
   */
  toChat(req: Req): ChatCompletionRequest
  /** The whole answer in the dialect's shape. */
  whole(req: Req, c: ChatCompletion, e: TurnEnd): unknown
  /** A translator for one streamed answer. */
  stream(req: Req): DialectStream
  /** The dialect's error body (the HTTP status stays rbee's). */
  errorBody(e: RbeeError, errorId?: string): unknown
  /** How the queen relays the dialect's stream. */
  readonly protocol: StreamProtocol
}

/** What one chat chunk carries: its text, its tool call pieces, its finish reason. */
export function chunkParts(c: ChatCompletionChunk): {
  text: string
  calls: readonly ChatToolCallDelta[]
  finish: string | null
} {
  const choice = c.choices[0]
  return {
    text: choice?.delta.content ?? '',
    calls: choice?.delta.tool_calls ?? [],
    finish: choice?.finish_reason ?? null,
  }
}

/** A function tool in the chat request's shape (fields left out where a dialect has none). */
export function chatTool(t: {
  name: string
  description?: string | null | undefined
  parameters?: Record<string, unknown> | null | undefined
  strict?: boolean | null | undefined
}): ChatTool {
  return {
    type: 'function',
    function: {
      name: t.name,
      ...(t.description == null ? {} : { description: t.description }),
      ...(t.parameters == null ? {} : { parameters: t.parameters }),
      ...(t.strict == null ? {} : { strict: t.strict }),
    },
  }
}
