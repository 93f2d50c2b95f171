import {
  type ChatCompletion,
  type ChatCompletionChunk,
  type ChatCompletionRequest,
  ChatCompletionRequestSchema,
  type Timings,
  type ToolCallDeltaSchema,
  type ToolSchema,
} from '@rbee/contracts'
import type { z } from 'zod'
import type { RbeeError } from '../errors.js'
import { validationError } from '../errors.js'
import type { ErrorShape } from '../http/error-handler.js'
import type { SseEvent } from '../sse/sse-writer.js'
import { type FieldRenames, renamedError } from './field-names.js'
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
   * Parses a body with the dialect's schema and translates it: the request, and the chat request
   * that runs it (its model and `stream` are the request's).
   * @throws RbeeError `RBEE_VALIDATION` naming every bad or refused field, as the dialect names it.
   */
  read(body: unknown): { request: Req; chat: ChatCompletionRequest }
  /** The whole answer in the dialect's shape. */
  whole(req: Req, c: ChatCompletion, e: TurnEnd): unknown
  /** A translator for one streamed answer. */
  stream(req: Req): DialectStream
  /** The shape its routes answer errors in (the HTTP status stays rbee's). */
  readonly errorShape: Extract<ErrorShape, 'anthropic' | 'responses' | 'ollama'>
  /** How the queen relays the dialect's stream. */
  readonly protocol: StreamProtocol
}

/** A chat request as a dialect writes it, before it is checked like one from outside. */
export type ChatRequestBody = z.input<typeof ChatCompletionRequestSchema>

/**
 * A dialect's chat request, checked as a chat request from outside is (tool calls paired with
 * their results, tool schemas within what a grammar can hold, …); errors name the dialect's
 * fields (`names`).
 * @throws RbeeError `RBEE_VALIDATION` naming the chat request's fields.
 */
export function checkedChat(body: ChatRequestBody, names: FieldRenames = []): ChatCompletionRequest {
  const parsed = ChatCompletionRequestSchema.safeParse(body)
  if (!parsed.success) throw renamedError(validationError(parsed.error), names)
  return parsed.data
}

/** What one chat chunk carries: its text, its tool call pieces, its finish reason. */
export function chunkParts(c: ChatCompletionChunk): {
  text: string
  calls: readonly z.output<typeof ToolCallDeltaSchema>[]
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
}): z.input<typeof ToolSchema> {
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
