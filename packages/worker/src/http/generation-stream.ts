import { randomUUID } from 'node:crypto'
import { errorMessage, RbeeError, type SseEvent, type SseSink, SseWriter } from '@rbee/common'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { GenerationRequest, GenerationResult, ToolCallEvent } from '../engine/engine.js'
import type { Worker } from '../worker.js'
import { RequestSignal } from './request-signal.js'

export interface StartInfo {
  slot: number
  promptTokens: number
  requestId: string
}

/** Where a stream's frames go on their way to the client, told how the generation ended. */
export interface FrameSink extends SseSink {
  /** Before the last frames: how the generation ended. */
  ended(result: GenerationResult): void
}

export interface StreamHooks {
  /** First frames, once a slot is held. */
  onStart: (sse: SseSink, info: StartInfo) => void
  onText: (sse: SseSink, text: string) => void
  /** Each piece of a tool call (chats with tools). */
  onToolCall?: (sse: SseSink, event: ToolCallEvent) => void
  onEnd: (sse: SseSink, result: GenerationResult) => void
  onError: (sse: SseSink, err: RbeeError) => void
  /**
   * Translates the frames the hooks send before they reach the client (another API's stream
   * over the same generation); made once the stream starts.
   */
  frames?: ((sse: SseWriter, info: StartInfo) => FrameSink) | undefined
}

/** How a stream that is not SSE is written (NDJSON): its content type and one event's bytes. */
export interface StreamWire {
  contentType: string
  frame: (ev: SseEvent) => string
}

export interface StreamOptions {
  /** @default a fresh UUID */
  requestId?: string | undefined
  /** A `timeout` (seconds) from the request body, besides the deadline headers. */
  timeoutS?: number | undefined
  /** The stream's format when not SSE; it then has no keep-alive comments. @default SSE */
  wire?: StreamWire | undefined
}

/**
 * Runs a generation and streams it as SSE. The response only becomes a stream once a slot is
 * held: waiting too long for one (503), a bad request (400), a worker still loading (503) or a
 * deadline that passes first (504) are answered as ordinary JSON errors, thrown to the route's
 * error handler. A deadline that passes mid-stream stops the generation, frees the slot and ends
 * the stream with an `RBEE_DEADLINE_EXCEEDED` error frame.
 */
export async function streamGeneration(
  worker: Worker,
  req: FastifyRequest,
  reply: FastifyReply,
  gen: Omit<GenerationRequest, 'signal' | 'onText' | 'onStart' | 'onToolCall'>,
  hooks: StreamHooks,
  options: StreamOptions = {},
): Promise<void> {
  const requestId = options.requestId ?? randomUUID()
  const rs = new RequestSignal(req, reply, options.timeoutS)
  let sse: SseWriter | undefined
  let out: SseSink | undefined
  let frames: FrameSink | undefined
  let pieces = 0
  try {
    const result = await worker.generate(
      requestId,
      {
        ...gen,
        onStart: (info) => {
          reply.hijack()
          const wire = options.wire
          sse = new SseWriter(reply.raw, {
            headers: { 'x-request-id': requestId },
            ...(wire === undefined
              ? {}
              : { contentType: wire.contentType, frame: wire.frame, keepAliveMs: 0 }),
          })
          const start = { ...info, requestId }
          frames = hooks.frames?.(sse, start)
          out = frames ?? sse
          hooks.onStart(out, start)
        },
        onText: (text) => {
          pieces++
          if (out) hooks.onText(out, text)
        },
        onToolCall: (event) => {
          if (out) hooks.onToolCall?.(out, event)
        },
      },
      rs.signal,
    )
    if (rs.expired && result.stopReason === 'cancelled') throw rs.error(result.tokensOut)
    if (sse && out) {
      frames?.ended(result)
      hooks.onEnd(out, result)
      sse.close()
    }
  } catch (thrown) {
    const err = rs.expired ? rs.error(pieces) : thrown
    if (!sse || !out) throw err
    const e = err instanceof RbeeError ? err : new RbeeError('RBEE_ENGINE', errorMessage(err), { cause: err })
    req.log.warn({ err: e.message, code: e.code, requestId }, 'generation failed mid-stream')
    hooks.onError(out, e)
    sse.close()
  } finally {
    rs.clear()
  }
}

/**
 * Runs a generation whose answer is sent whole (`timeoutS`: a `timeout` from the body).
 * @throws RbeeError `RBEE_DEADLINE_EXCEEDED` (504) when its deadline passes first (the generation
 * stops there and its slot is freed); the engine's errors.
 */
export async function generateWhole(
  worker: Worker,
  req: FastifyRequest,
  reply: FastifyReply,
  gen: Omit<GenerationRequest, 'signal' | 'onText' | 'onStart'>,
  timeoutS?: number,
): Promise<GenerationResult> {
  const rs = new RequestSignal(req, reply, timeoutS)
  try {
    const result = await worker.generate(randomUUID(), { ...gen, onText: () => {} }, rs.signal)
    if (rs.expired && result.stopReason === 'cancelled') throw rs.error(result.tokensOut)
    return result
  } catch (err) {
    throw rs.expired ? rs.error(undefined) : err
  } finally {
    rs.clear()
  }
}
