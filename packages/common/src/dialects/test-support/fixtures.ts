// Test fixtures of the dialects' unit tests (not exported from the package).
import { BUILTIN_MODEL_ID, type ChatCompletionChunk } from '@rbee/contracts'
import { RbeeError } from '../../errors.js'
import type { TurnEnd } from '../dialect.js'

/** How a turn of `promptTokens` in and `completionTokens` out ended. */
export function turnEnd(promptTokens: number, completionTokens: number): TurnEnd {
  return {
    promptTokens,
    completionTokens,
    stopSequence: null,
    timings: { prompt_tokens: promptTokens, prompt_ms: 1, generation_ms: 2, tokens_per_s: 3, queue_ms: 0 },
  }
}

/** A chat chunk with one choice. */
export function chatChunk(
  delta: ChatCompletionChunk['choices'][0]['delta'],
  finish: ChatCompletionChunk['choices'][0]['finish_reason'] = null,
): ChatCompletionChunk {
  return {
    id: 'c',
    object: 'chat.completion.chunk',
    created: 0,
    model: BUILTIN_MODEL_ID,
    choices: [{ index: 0, delta, finish_reason: finish }],
  }
}

/** The message of the 400 that `parse` refuses `body` with; throws if it accepts it. */
export function refusalOf(parse: (body: unknown) => unknown, body: unknown): string {
  try {
    parse(body)
  } catch (err) {
    if (err instanceof RbeeError && err.status === 400) return err.message
    throw err
  }
  throw new Error(`accepted: ${JSON.stringify(body)}`)
}
