import { randomUUID } from 'node:crypto'
import type {
  AnthropicMessage,
  AnthropicResponseBlock,
  AnthropicStopReason,
  ChatCompletion,
} from '@rbee/contracts'
import { RbeeError } from '../../errors.js'
import { parseJson } from '../../json-limits.js'
import type { TurnEnd } from '../dialect.js'

/** A fresh message id, in Anthropic's style. */
export const anthropicMessageId = (): string => `msg_${randomUUID().replaceAll('-', '')}`

/** Why a turn ended, in Anthropic's words. */
export function anthropicStopReason(finish: string | null, stopSequence: string | null): AnthropicStopReason {
  if (finish === 'tool_calls') return 'tool_use'
  if (finish === 'length') return 'max_tokens'
  return stopSequence === null ? 'end_turn' : 'stop_sequence'
}

/**
 * A call's arguments as the object `tool_use.input` is.
 * @throws RbeeError `RBEE_ENGINE` when they are not a JSON object (the worker's grammar makes them one).
 */
export function toolInput(call: { id: string; function: { arguments: string } }): Record<string, unknown> {
  let input: unknown
  try {
    input = parseJson(call.function.arguments === '' ? '{}' : call.function.arguments)
  } catch (err) {
    throw new RbeeError('RBEE_ENGINE', `the arguments of tool call ${call.id} are not JSON`, { cause: err })
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new RbeeError('RBEE_ENGINE', `the arguments of tool call ${call.id} are not a JSON object`)
  }
  return Object.fromEntries(Object.entries(input))
}

/** A whole chat completion as an Anthropic message. */
export function anthropicMessage(model: string, c: ChatCompletion, e: TurnEnd): AnthropicMessage {
  const choice = c.choices[0]
  const content: AnthropicResponseBlock[] = []
  if (choice?.message.content) content.push({ type: 'text', text: choice.message.content })
  for (const call of choice?.message.tool_calls ?? []) {
    content.push({ type: 'tool_use', id: call.id, name: call.function.name, input: toolInput(call) })
  }
  const stopReason = anthropicStopReason(choice?.finish_reason ?? null, e.stopSequence)
  return {
    id: anthropicMessageId(),
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: stopReason,
    stop_sequence: stopReason === 'stop_sequence' ? e.stopSequence : null,
    usage: { input_tokens: e.promptTokens, output_tokens: e.completionTokens },
    timings: e.timings,
  }
}
