import { randomUUID } from 'node:crypto'
import { errorMessage, RbeeError, type SseSink, SseWriter } from '@rbee/common'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { GenerationRequest, GenerationResult } from '../engine/engine.js'
import type { Worker } from '../worker.js'

/** An AbortSignal that fires when the client goes away before the response has finished. */
export function disconnectSignal(reply: FastifyReply): AbortSignal {
  const ac = new AbortController()
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) ac.abort(new RbeeError('RBEE_CANCELLED', 'client disconnected'))
  })
  return ac.signal
}

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
  onEnd: (sse: SseSink, result: GenerationResult) => void
  onError: (sse: SseSink, err: RbeeError) => void
  /**
   * Translates the frames the hooks send before they reach the client (another API's stream
   * over the same generation); made once the stream starts.
   */
  frames?: ((sse: SseWriter, info: StartInfo) => FrameSink) | undefined
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
  gen: Omit<GenerationRequest, 'signal' | 'onText' | 'onStart'>,
  hooks: StreamHooks,
  requestId: string = randomUUID(),
): Promise<void> {
  const signal = disconnectSignal(reply)
  let sse: SseWriter | undefined
  let out: SseSink | undefined
  let frames: FrameSink | undefined
  try {
    const result = await worker.generate(
      requestId,
      {
        ...gen,
        onStart: (info) => {
          reply.hijack()
          sse = new SseWriter(reply.raw, { headers: { 'x-request-id': requestId } })
          const start = { ...info, requestId }
          frames = hooks.frames?.(sse, start)
          out = frames ?? sse
          hooks.onStart(out, start)
        },
        onText: (text) => {
          if (out) hooks.onText(out, text)
        },
      },
      signal,
    )
    if (sse && out) {
      frames?.ended(result)
      hooks.onEnd(out, result)
      sse.close()
    }
  } catch (err) {
    if (!sse || !out) throw err
    const e = err instanceof RbeeError ? err : new RbeeError('RBEE_ENGINE', errorMessage(err), { cause: err })
    req.log.warn({ err: e.message, code: e.code, requestId }, 'generation failed mid-stream')
    hooks.onError(out, e)
    sse.close()
  }
}
