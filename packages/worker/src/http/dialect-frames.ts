import {
  type Dialect,
  type DialectStream,
  isErrorCode,
  RbeeError,
  type SseEvent,
  type SseWriter,
  type TurnEnd,
} from '@rbee/common'
import { ChatCompletionChunkSchema, OpenAiErrorSchema } from '@rbee/contracts'
import type { GenerationResult } from '../engine/engine.js'
import type { FrameSink, StartInfo } from './generation-stream.js'
import type { ChatDialect } from './openai-routes.js'
import { timingsOf } from './timings.js'

const turnEnd = (r: GenerationResult): TurnEnd => ({
  promptTokens: r.promptTokens,
  completionTokens: r.tokensOut,
  stopSequence: r.stopSequence,
  timings: timingsOf(r),
})

/** The error an OpenAI error frame stands for (its `code` is rbee's where it has one). */
function errorOf(body: { error: { message: string; code: string | null } }): RbeeError {
  const code = body.error.code
  return new RbeeError(isErrorCode(code) ? code : 'RBEE_ENGINE', body.error.message)
}

/**
 * The chat route's frames (OpenAI chunks, an error, `[DONE]`) as a dialect's events, written to
 * the client's stream as they come.
 */
class DialectFrames implements FrameSink {
  readonly #sse: SseWriter
  readonly #stream: DialectStream
  #end: TurnEnd | undefined

  constructor(sse: SseWriter, stream: DialectStream, info: StartInfo) {
    this.#sse = sse
    this.#stream = stream
    this.#emit(stream.start({ promptTokens: info.promptTokens }))
  }

  #emit(events: SseEvent[]): boolean {
    let open = true
    for (const ev of events) open = this.#sse.send(ev) && open
    return open
  }

  ended(result: GenerationResult): void {
    this.#end = turnEnd(result)
  }

  send(ev: SseEvent): boolean {
    const data = ev.data
    if (data === '[DONE]') {
      if (this.#end === undefined)
        return this.#emit(this.#stream.error(new RbeeError('RBEE_INTERNAL', 'stream ended early')))
      return this.#emit(this.#stream.end(this.#end))
    }
    const chunk = ChatCompletionChunkSchema.safeParse(data)
    if (chunk.success) return this.#emit(this.#stream.chunk(chunk.data))
    const error = OpenAiErrorSchema.safeParse(data)
    if (error.success) return this.#emit(this.#stream.error(errorOf(error.data)))
    return this.#emit(this.#stream.error(new RbeeError('RBEE_INTERNAL', 'a chat frame of no known shape')))
  }
}

/** A chat turn answered in a dialect's shape, for the request `req`. */
export function chatDialect<Req>(d: Dialect<Req>, req: Req): ChatDialect {
  return {
    frames: (sse, info) => new DialectFrames(sse, d.stream(req), info),
    whole: (c, r) => d.whole(req, c, turnEnd(r)),
    wire: d.protocol.frame && { contentType: d.protocol.contentType, frame: d.protocol.frame },
  }
}
