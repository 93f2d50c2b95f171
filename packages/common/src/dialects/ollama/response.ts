import type {
  ChatCompletion,
  OllamaChatResponse,
  OllamaDoneFields,
  OllamaDoneReason,
  OllamaGenerateResponse,
  OllamaToolCall,
} from '@rbee/contracts'
import { toolInput } from '../anthropic/response.js'
import type { TurnEnd } from '../dialect.js'

const NS_PER_MS = 1_000_000
const ns = (ms: number): number => Math.round(ms * NS_PER_MS)

/** Ollama's `created_at`: now. */
export const createdAt = (): string => new Date().toISOString()

/** Why a turn ended, in Ollama's words (a turn of tool calls ends with `stop`, as Ollama's does). */
export const doneReason = (finish: string | null): OllamaDoneReason =>
  finish === 'length' ? 'length' : 'stop'

/**
 * A finished turn's figures in nanoseconds. The worker has the model loaded before any request
 * (`load_duration` 0); waiting for a slot counts in `total_duration`.
 */
export function doneFields(e: TurnEnd): OllamaDoneFields {
  const t = e.timings
  return {
    total_duration: ns(t.queue_ms + t.prompt_ms + t.generation_ms),
    load_duration: 0,
    prompt_eval_count: e.promptTokens,
    prompt_eval_duration: ns(t.prompt_ms),
    eval_count: e.completionTokens,
    eval_duration: ns(t.generation_ms),
  }
}

/** A chat tool call as Ollama writes it: its arguments as an object. */
export function ollamaToolCall(
  call: { id: string; function: { name: string; arguments: string } },
  index: number,
) {
  const out: OllamaToolCall = {
    id: call.id,
    function: { index, name: call.function.name, arguments: toolInput(call) },
  }
  return out
}

/** A whole chat completion as `/api/chat`'s answer. */
export function wholeChat(model: string, c: ChatCompletion, e: TurnEnd): OllamaChatResponse {
  const choice = c.choices[0]
  const calls = choice?.message.tool_calls ?? []
  return {
    model,
    created_at: createdAt(),
    message: {
      role: 'assistant',
      content: choice?.message.content ?? '',
      ...(calls.length > 0 ? { tool_calls: calls.map(ollamaToolCall) } : {}),
    },
    done: true,
    done_reason: doneReason(choice?.finish_reason ?? null),
    ...doneFields(e),
  }
}

/** A whole chat completion as `/api/generate`'s answer. */
export function wholeGenerate(model: string, c: ChatCompletion, e: TurnEnd): OllamaGenerateResponse {
  const choice = c.choices[0]
  return {
    model,
    created_at: createdAt(),
    response: choice?.message.content ?? '',
    done: true,
    done_reason: doneReason(choice?.finish_reason ?? null),
    ...doneFields(e),
  }
}

/** The answer to Ollama's load call (`load`) or unload call (`unload`): nothing generated. */
export function loadAnswer(
  kind: 'chat' | 'generate',
  model: string,
  reason: 'load' | 'unload',
): OllamaChatResponse | OllamaGenerateResponse {
  const head = { model, created_at: createdAt() }
  return kind === 'chat'
    ? { ...head, message: { role: 'assistant', content: '' }, done: true, done_reason: reason }
    : { ...head, response: '', done: true, done_reason: reason }
}
