import type {
  ChatCompletionRequest,
  ResponsesRequest,
  ResponsesTextFormat,
  ResponsesToolChoice,
} from '@rbee/contracts'
import { refusedField } from '../../errors.js'
import { type ChatRequestBody, chatTool, checkedChat } from '../dialect.js'
import { RESPONSES_NAMES } from './errors.js'

type ChatMessage = ChatRequestBody['messages'][number]

const joinText = (parts: readonly { text: string }[]): string => parts.map((p) => p.text).join('\n\n')

function toolChoice(c: ResponsesToolChoice): ChatRequestBody['tool_choice'] {
  return typeof c === 'string' ? c : { type: 'function', function: { name: c.name } }
}

function responseFormat(f: ResponsesTextFormat): ChatRequestBody['response_format'] {
  switch (f.type) {
    case 'text':
      return undefined
    case 'json_object':
      return { type: 'json_object' }
    case 'json_schema':
      return {
        type: 'json_schema',
        json_schema: {
          name: f.name,
          schema: f.schema,
          ...(f.description === undefined ? {} : { description: f.description }),
          ...(f.strict == null ? {} : { strict: f.strict }),
        },
      }
  }
}

/**
 * The chat messages of a Responses request: `instructions` first (as a system message), then each
 * input item. Function calls join the assistant message before them (a turn's text and its calls
 * are one chat message); each call's output is a `tool` message.
 */
function toMessages(req: ResponsesRequest): ChatMessage[] {
  const messages: ChatMessage[] = []
  if (req.instructions != null) messages.push({ role: 'system', content: req.instructions })
  if (typeof req.input === 'string') {
    messages.push({ role: 'user', content: req.input })
    return messages
  }
  for (const [i, item] of req.input.entries()) {
    switch (item.type) {
      case 'message':
        messages.push({
          role: item.role,
          content: typeof item.content === 'string' ? item.content : joinText(item.content),
        })
        break
      case 'function_call': {
        const call = {
          id: item.call_id,
          type: 'function' as const,
          function: { name: item.name, arguments: item.arguments },
        }
        const last = messages.at(-1)
        if (last?.role === 'assistant') last.tool_calls = [...(last.tool_calls ?? []), call]
        else messages.push({ role: 'assistant', content: null, tool_calls: [call] })
        break
      }
      case 'function_call_output':
        messages.push({
          role: 'tool',
          tool_call_id: item.call_id,
          content: typeof item.output === 'string' ? item.output : joinText(item.output),
        })
        break
      default:
        // The schema refuses every other item; this names it should one get through.
        throw refusedField(`input.${i}.type`, 'not supported')
    }
  }
  return messages
}

/** The chat request that runs a Responses request. */
export function responsesToChat(req: ResponsesRequest): ChatCompletionRequest {
  const format = req.text?.format === undefined ? undefined : responseFormat(req.text.format)
  const tools = req.tools !== undefined && req.tools.length > 0 ? req.tools : undefined
  return checkedChat(
    {
      model: req.model,
      messages: toMessages(req),
      ...(req.max_output_tokens == null ? {} : { max_completion_tokens: req.max_output_tokens }),
      ...(req.temperature == null ? {} : { temperature: req.temperature }),
      ...(req.top_p == null ? {} : { top_p: req.top_p }),
      ...(req.user === undefined ? {} : { user: req.user }),
      // Without tools, a choice of none or auto asks for nothing (and required is refused).
      ...(tools === undefined
        ? req.tool_choice === undefined || req.tool_choice === 'auto' || req.tool_choice === 'none'
          ? {}
          : { tool_choice: toolChoice(req.tool_choice) }
        : {
            tools: tools.map(chatTool),
            ...(req.tool_choice === undefined ? {} : { tool_choice: toolChoice(req.tool_choice) }),
            ...(req.parallel_tool_calls == null ? {} : { parallel_tool_calls: req.parallel_tool_calls }),
          }),
      ...(format === undefined ? {} : { response_format: format }),
      stream: req.stream === true,
    },
    RESPONSES_NAMES,
  )
}
