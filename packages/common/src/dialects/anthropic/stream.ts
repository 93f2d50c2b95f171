import type { AnthropicStreamEvent, ChatCompletionChunk } from '@rbee/contracts'
import type { RbeeError } from '../../errors.js'
import type { SseEvent } from '../../sse/sse-writer.js'
import { chunkParts, type DialectStream, type TurnEnd, type TurnStart } from '../dialect.js'
import { anthropicErrorBody } from './errors.js'
import { anthropicMessageId, anthropicStopReason } from './response.js'

const ev = (e: AnthropicStreamEvent): SseEvent => ({ event: e.type, data: e })

/**
 * A streamed chat turn as Anthropic's events: `message_start` and a `ping`, then one content
 * block per text run or tool call (`content_block_start`, `…_delta` with `text_delta` or
 * `input_json_delta`, `content_block_stop`), then `message_delta` (stop reason, usage) and
 * `message_stop`.
 */
export class AnthropicStream implements DialectStream {
  readonly #model: string
  /** The index of the open block; -1 before the first. */
  #index = -1
  #open: 'text' | 'tool_use' | undefined
  /** The block index of each of the chat stream's tool calls, by the call's index. */
  readonly #toolBlocks = new Map<number, number>()
  #finish: string | null = null

  constructor(model: string) {
    this.#model = model
  }

  start(s: TurnStart): SseEvent[] {
    return [
      ev({
        type: 'message_start',
        message: {
          id: anthropicMessageId(),
          type: 'message',
          role: 'assistant',
          model: this.#model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: s.promptTokens, output_tokens: 0 },
        },
      }),
      ev({ type: 'ping' }),
    ]
  }

  #close(out: SseEvent[]): void {
    if (this.#open !== undefined) out.push(ev({ type: 'content_block_stop', index: this.#index }))
    this.#open = undefined
  }

  chunk(c: ChatCompletionChunk): SseEvent[] {
    const out: SseEvent[] = []
    const { text, calls, finish } = chunkParts(c)
    if (text) {
      if (this.#open !== 'text') {
        this.#close(out)
        this.#open = 'text'
        out.push(
          ev({
            type: 'content_block_start',
            index: ++this.#index,
            content_block: { type: 'text', text: '' },
          }),
        )
      }
      out.push(ev({ type: 'content_block_delta', index: this.#index, delta: { type: 'text_delta', text } }))
    }
    for (const call of calls) {
      let index = this.#toolBlocks.get(call.index)
      if (index === undefined) {
        this.#close(out)
        this.#open = 'tool_use'
        index = ++this.#index
        this.#toolBlocks.set(call.index, index)
        out.push(
          ev({
            type: 'content_block_start',
            index,
            content_block: {
              type: 'tool_use',
              id: call.id ?? `toolu_${index}`,
              name: call.function?.name ?? '',
              input: {},
            },
          }),
        )
      }
      const args = call.function?.arguments
      if (args)
        out.push(
          ev({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: args } }),
        )
    }
    if (finish !== null) this.#finish = finish
    return out
  }

  end(e: TurnEnd): SseEvent[] {
    const out: SseEvent[] = []
    this.#close(out)
    const stopReason = anthropicStopReason(this.#finish, e.stopSequence)
    out.push(
      ev({
        type: 'message_delta',
        delta: {
          stop_reason: stopReason,
          stop_sequence: stopReason === 'stop_sequence' ? e.stopSequence : null,
        },
        usage: { input_tokens: e.promptTokens, output_tokens: e.completionTokens },
        timings: e.timings,
      }),
      ev({ type: 'message_stop' }),
    )
    return out
  }

  error(e: RbeeError): SseEvent[] {
    return [{ event: 'error', data: anthropicErrorBody(e) }]
  }
}
