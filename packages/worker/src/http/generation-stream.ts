import { randomUUID } from 'node:crypto'
import { errorMessage, RbeeError, SseWriter } from '@rbee/common'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { GenerationRequest, GenerationResult, ToolCallEvent } from '../engine/engine.js'
import type { Worker } from '../worker.js'

/** An AbortSignal that fires when the client goes away before the response has finished. */
export function disconnectSignal(reply: FastifyReply): AbortSignal {
  const ac = new AbortController()
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) ac.abort(new RbeeError('RBEE_CANCELLED', 'client disconnected'))
  })
  return ac.signal
}

export interface StreamHooks {
  /** First frames, once a slot is held. */
  onStart: (sse: SseWriter, info: { slot: number; promptTokens: number; requestId: string }) => void
  onText: (sse: SseWriter, text: string) => void
  /** Each piece of a tool call (chats with tools). */
  onToolCall?: (sse: SseWriter, event: ToolCallEvent) => void
  onEnd: (sse: SseWriter, result: GenerationResult) => void
  onError: (sse: SseWriter, err: RbeeError) => void
}

/**
 * Runs a generation and streams it as SSE. The response only becomes a stream once a slot is
 * held: waiting too long for one (503), a bad request (400) or a worker still loading (503) are
 * answered as ordinary JSON errors, thrown to the route's error handler.
 */
export async function streamGeneration(
  worker: Worker,
  req: FastifyRequest,
  reply: FastifyReply,
  gen: Omit<GenerationRequest, 'signal' | 'onText' | 'onStart' | 'onToolCall'>,
  hooks: StreamHooks,
  requestId: string = randomUUID(),
): Promise<void> {
  const signal = disconnectSignal(reply)
  let sse: SseWriter | undefined
  try {
    const result = await worker.generate(
      requestId,
      {
        ...gen,
        onStart: (info) => {
          reply.hijack()
          sse = new SseWriter(reply.raw, { headers: { 'x-request-id': requestId } })
          hooks.onStart(sse, { ...info, requestId })
        },
        onText: (text) => {
          if (sse) hooks.onText(sse, text)
        },
        onToolCall: (event) => {
          if (sse) hooks.onToolCall?.(sse, event)
        },
      },
      signal,
    )
    if (sse) {
      hooks.onEnd(sse, result)
      sse.close()
    }
  } catch (err) {
    if (!sse) throw err
    const e = err instanceof RbeeError ? err : new RbeeError('RBEE_ENGINE', errorMessage(err), { cause: err })
    req.log.warn({ err: e.message, code: e.code, requestId }, 'generation failed mid-stream')
    hooks.onError(sse, e)
    sse.close()
  }
}
