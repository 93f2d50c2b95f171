import type { ChatCompletionChunk, ResponsesOutputItem, ResponsesRequest } from '@rbee/contracts'
import type { RbeeError } from '../../errors.js'
import type { SseEvent } from '../../sse/sse-writer.js'
import { chunkParts, type DialectStream, type TurnEnd } from '../dialect.js'
import { type ResponseState, responseObject, responsesId } from './response.js'

/** The output item being streamed, with what its closing events need. */
type OpenItem =
  | { kind: 'message'; id: string; index: number; text: string }
  | { kind: 'function_call'; id: string; index: number; callId: string; name: string; args: string }

/**
 * A streamed chat turn as the Responses API's events: `response.created` and
 * `response.in_progress`, then each output item (`response.output_item.added`, for a message
 * `response.content_part.added`, `response.output_text.delta`, `….done`; for a function call
 * `response.function_call_arguments.delta`, `….done`), `response.output_item.done`, and
 * `response.completed` (or `response.incomplete` when `max_output_tokens` cut it short).
 */
export class ResponsesStream implements DialectStream {
  readonly #req: ResponsesRequest
  readonly #state: ResponseState
  #seq = 0
  #open: OpenItem | undefined
  /** The output index of each of the chat stream's tool calls, by the call's index. */
  readonly #calls = new Map<number, number>()
  #finish: string | null = null

  constructor(req: ResponsesRequest) {
    this.#req = req
    this.#state = {
      id: responsesId('resp'),
      createdAt: Math.floor(Date.now() / 1000),
      status: 'in_progress',
      output: [],
      end: undefined,
    }
  }

  /** One event; `type` goes last, so a stream's final bytes name its final event. */
  #ev(type: string, fields: Record<string, unknown>): SseEvent {
    return { event: type, data: { ...fields, sequence_number: this.#seq++, type } }
  }

  #response() {
    return responseObject(this.#req, { ...this.#state, output: [...this.#state.output] })
  }

  start(): SseEvent[] {
    return [
      this.#ev('response.created', { response: this.#response() }),
      this.#ev('response.in_progress', { response: this.#response() }),
    ]
  }

  #close(out: SseEvent[], status: 'completed' | 'incomplete'): void {
    const item = this.#open
    if (item === undefined) return
    this.#open = undefined
    let done: ResponsesOutputItem
    if (item.kind === 'message') {
      const part = { type: 'output_text' as const, text: item.text, annotations: [], logprobs: [] }
      const at = { item_id: item.id, output_index: item.index, content_index: 0 }
      out.push(
        this.#ev('response.output_text.done', { ...at, text: item.text, logprobs: [] }),
        this.#ev('response.content_part.done', { ...at, part }),
      )
      done = { type: 'message', id: item.id, status, role: 'assistant', content: [part] }
    } else {
      out.push(
        this.#ev('response.function_call_arguments.done', {
          item_id: item.id,
          output_index: item.index,
          name: item.name,
          arguments: item.args,
        }),
      )
      done = {
        type: 'function_call',
        id: item.id,
        status: 'completed',
        call_id: item.callId,
        name: item.name,
        arguments: item.args,
      }
    }
    this.#state.output[item.index] = done
    out.push(this.#ev('response.output_item.done', { output_index: item.index, item: done }))
  }

  #add(out: SseEvent[], item: ResponsesOutputItem): number {
    const index = this.#state.output.length
    this.#state.output.push(item)
    out.push(this.#ev('response.output_item.added', { output_index: index, item }))
    return index
  }

  chunk(c: ChatCompletionChunk): SseEvent[] {
    const out: SseEvent[] = []
    const { text, calls, finish } = chunkParts(c)
    if (text) {
      let item = this.#open
      if (item?.kind !== 'message') {
        this.#close(out, 'completed')
        const id = responsesId('msg')
        const index = this.#add(out, {
          type: 'message',
          id,
          status: 'in_progress',
          role: 'assistant',
          content: [],
        })
        out.push(
          this.#ev('response.content_part.added', {
            item_id: id,
            output_index: index,
            content_index: 0,
            part: { type: 'output_text', text: '', annotations: [], logprobs: [] },
          }),
        )
        item = { kind: 'message', id, index, text: '' }
        this.#open = item
      }
      item.text += text
      out.push(
        this.#ev('response.output_text.delta', {
          item_id: item.id,
          output_index: item.index,
          content_index: 0,
          delta: text,
          logprobs: [],
        }),
      )
    }
    for (const call of calls) {
      let item = this.#open
      if (!this.#calls.has(call.index)) {
        this.#close(out, 'completed')
        const id = responsesId('fc')
        const callId = call.id ?? id
        const name = call.function?.name ?? ''
        const index = this.#add(out, {
          type: 'function_call',
          id,
          status: 'in_progress',
          call_id: callId,
          name,
          arguments: '',
        })
        this.#calls.set(call.index, index)
        item = { kind: 'function_call', id, index, callId, name, args: '' }
        this.#open = item
      }
      const args = call.function?.arguments
      if (args && item?.kind === 'function_call') {
        item.args += args
        out.push(
          this.#ev('response.function_call_arguments.delta', {
            item_id: item.id,
            output_index: item.index,
            delta: args,
          }),
        )
      }
    }
    if (finish !== null) this.#finish = finish
    return out
  }

  end(e: TurnEnd): SseEvent[] {
    const out: SseEvent[] = []
    const incomplete = this.#finish === 'length'
    this.#close(out, incomplete ? 'incomplete' : 'completed')
    this.#state.status = incomplete ? 'incomplete' : 'completed'
    this.#state.end = e
    out.push(
      this.#ev(incomplete ? 'response.incomplete' : 'response.completed', { response: this.#response() }),
    )
    return out
  }

  error(e: RbeeError): SseEvent[] {
    return [this.#ev('error', { code: e.code, message: e.message, param: null })]
  }
}
