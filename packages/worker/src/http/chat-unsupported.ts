import { fieldError } from '@rbee/common'
import type { ChatCompletionRequest } from '@rbee/contracts'

/**
 * Chat request fields this worker parses but cannot honour yet: refused with a 400 naming them,
 * never ignored. (Tool calling and structured output run through node-llama-cpp's function
 * calling and JSON-schema grammars: the work of issue 17's first two points.)
 */
export function refuseUntilSupported(body: ChatCompletionRequest): void {
  if (body.tools !== undefined && body.tools.length > 0)
    throw fieldError('tools', 'tool calling is not supported by this worker yet')
  if (body.tool_choice !== undefined && body.tool_choice !== 'none' && body.tool_choice !== 'auto')
    throw fieldError('tool_choice', 'tool calling is not supported by this worker yet')
  if (body.response_format !== undefined && body.response_format.type !== 'text')
    throw fieldError('response_format', 'structured output is not supported by this worker yet')
  for (const [i, m] of body.messages.entries()) {
    if (m.tool_calls !== undefined && m.tool_calls.length > 0)
      throw fieldError(`messages.${i}.tool_calls`, 'tool calling is not supported by this worker yet')
    if (m.role === 'tool')
      throw fieldError(`messages.${i}.role`, 'tool calling is not supported by this worker yet')
  }
}
