import { jsonNestsDeeperThan, RbeeError } from '@rbee/common'
import type { ChatHistoryItem, ChatModelFunctionCall } from 'node-llama-cpp'
import type { ChatTurn } from './engine.js'

function unpaired(message: string): RbeeError {
  return new RbeeError('RBEE_VALIDATION', `invalid request body: messages: ${message}`, {
    details: { issues: [{ path: 'messages', message }] },
  })
}

/**
 * A tool's answer as the chat template gets it: JSON when it is JSON text (nesting within
 * MAX_JSON_DEPTH: the template stringifies it again, recursively), else the text.
 */
function resultOf(text: string): unknown {
  if (jsonNestsDeeperThan(text)) return text
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/**
 * node-llama-cpp's chat history for a conversation. Tool calls go into the model turn that made
 * them, each with the result a later tool turn gave it (node-llama-cpp renders call and result
 * together, in the template's own syntax), and what the assistant says after the results
 * continues that same model turn. An empty model turn at the end asks for a new answer; a model
 * turn that is not empty (text to continue, or calls with their results) is continued.
 * @throws RbeeError `RBEE_VALIDATION` when a tool turn answers no call, or a call is left unanswered.
 */
export function toChatHistory(turns: readonly ChatTurn[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = []
  /** Calls of the last model turn still waiting for their result, in order. */
  const waiting: Array<{ id: string; call: ChatModelFunctionCall }> = []
  const lastModel = (): Extract<ChatHistoryItem, { type: 'model' }> | undefined => {
    const last = history.at(-1)
    return last?.type === 'model' ? last : undefined
  }
  const needAnswers = (): void => {
    if (waiting.length > 0)
      throw unpaired(`tool call ${waiting.map((w) => w.id).join(', ')} has no tool message answering it`)
  }
  for (const turn of turns) {
    if (turn.role === 'tool') {
      const at = turn.callId === undefined ? 0 : waiting.findIndex((w) => w.id === turn.callId)
      const answered = waiting[at]
      if (answered === undefined)
        throw unpaired(`a tool message (${turn.callId ?? 'no id'}) answers no tool call of the assistant`)
      answered.call.result = resultOf(turn.text)
      waiting.splice(at, 1)
      continue
    }
    needAnswers()
    if (turn.role === 'system') history.push({ type: 'system', text: turn.text })
    else if (turn.role === 'user') history.push({ type: 'user', text: turn.text })
    else {
      // After a call's results, the assistant's next words belong to the same model turn.
      const previous = lastModel()
      const end = previous?.response.at(-1)
      const continues = typeof end === 'object' && end.type === 'functionCall'
      const response = continues && previous ? previous.response : []
      if (turn.text !== '') response.push(turn.text)
      for (const [i, c] of turn.toolCalls.entries()) {
        const call: ChatModelFunctionCall = {
          type: 'functionCall',
          name: c.name,
          params: c.arguments,
          result: undefined,
          startsNewChunk: i === 0,
        }
        response.push(call)
        waiting.push({ id: c.id, call })
      }
      if (!continues) history.push({ type: 'model', response })
    }
  }
  needAnswers()
  if (history.at(-1)?.type !== 'model') history.push({ type: 'model', response: [] })
  return history
}

/** The text of a chat history (as `toChatHistory` builds it), in UTF-8 bytes. */
export function chatHistoryBytes(history: readonly ChatHistoryItem[]): number {
  let bytes = 0
  for (const item of history) {
    if (item.type !== 'model') {
      if (typeof item.text === 'string') bytes += Buffer.byteLength(item.text)
      continue
    }
    for (const r of item.response) {
      if (typeof r === 'string') bytes += Buffer.byteLength(r)
      else if (r.type === 'functionCall')
        bytes +=
          Buffer.byteLength(r.name) +
          Buffer.byteLength(JSON.stringify(r.params) ?? '') +
          Buffer.byteLength(typeof r.result === 'string' ? r.result : (JSON.stringify(r.result) ?? ''))
    }
  }
  return bytes
}
