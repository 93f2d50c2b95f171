import type { ChatCompletionChunk } from '@rbee/contracts'
import type { RbeeError } from '../../errors.js'
import { ollamaErrorBody } from '../../http/error-handler.js'
import type { SseEvent } from '../../sse/sse-writer.js'
import { chunkParts, type DialectStream, type TurnEnd } from '../dialect.js'
import { createdAt, doneFields, doneReason, ollamaToolCall } from './response.js'

/** A tool call being streamed: its id, name, and arguments so far. */
interface OpenCall {
  id: string
  name: string
  args: string
}

/**
 * A streamed chat turn as Ollama's NDJSON lines (each event's data is one line): a line per piece
 * of text (`message.content` for `/api/chat`, `response` for `/api/generate`) with `done: false`,
 * a line with a chat's tool calls, each whole (Ollama sends calls once they are complete), and a
 * last line with `done: true`, `done_reason` and the figures, `eval_duration` last.
 */
export class OllamaStream implements DialectStream {
  readonly #model: string
  readonly #kind: 'chat' | 'generate'
  /** The calls of the turn, by the chat stream's call index; sent once the turn's calls are done. */
  readonly #calls = new Map<number, OpenCall>()
  #finish: string | null = null

  constructor(model: string, kind: 'chat' | 'generate') {
    this.#model = model
    this.#kind = kind
  }

  #line(content: string, extra: object = {}, done = false): SseEvent {
    const head = { model: this.#model, created_at: createdAt() }
    const data =
      this.#kind === 'chat'
        ? { ...head, message: { role: 'assistant', content, ...extra }, done }
        : { ...head, response: content, done }
    return { data }
  }

  start(): SseEvent[] {
    return []
  }

  /** The line with the turn's tool calls, if it made any (then none again). */
  #flushCalls(out: SseEvent[]): void {
    if (this.#calls.size === 0) return
    const calls = [...this.#calls.values()].map((c, i) =>
      ollamaToolCall({ id: c.id, function: { name: c.name, arguments: c.args } }, i),
    )
    this.#calls.clear()
    out.push(this.#line('', { tool_calls: calls }))
  }

  chunk(c: ChatCompletionChunk): SseEvent[] {
    const out: SseEvent[] = []
    const { text, calls, finish } = chunkParts(c)
    if (text) out.push(this.#line(text))
    for (const call of calls) {
      let open = this.#calls.get(call.index)
      if (open === undefined) {
        open = { id: call.id ?? `call_${call.index}`, name: call.function?.name ?? '', args: '' }
        this.#calls.set(call.index, open)
      }
      open.args += call.function?.arguments ?? ''
    }
    if (finish !== null) {
      this.#finish = finish
      this.#flushCalls(out)
    }
    return out
  }

  end(e: TurnEnd): SseEvent[] {
    const out: SseEvent[] = []
    this.#flushCalls(out)
    const last = this.#line('')
    const data = last.data as Record<string, unknown>
    delete data.done
    // `eval_duration` goes last: the queen sees a stream's end in its last bytes.
    out.push({ data: { ...data, done: true, done_reason: doneReason(this.#finish), ...doneFields(e) } })
    return out
  }

  error(e: RbeeError): SseEvent[] {
    return [{ data: ollamaErrorBody(e) }]
  }
}
