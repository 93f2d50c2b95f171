import type {
  AnthropicContentBlock,
  AnthropicCountTokensRequest,
  AnthropicMessagesRequest,
  AnthropicToolChoice,
  ChatCompletionRequest,
} from '@rbee/contracts'
import { refusedField } from '../../errors.js'
import { type ChatRequestBody, chatTool, checkedChat } from '../dialect.js'
import { ANTHROPIC_NAMES } from './errors.js'

type ChatMessage = ChatRequestBody['messages'][number]
type ToolCall = { id: string; type: 'function'; function: { name: string; arguments: string } }

type TextBlock = Extract<AnthropicContentBlock, { type: 'text' }>
type ToolResultBlock = Extract<AnthropicContentBlock, { type: 'tool_result' }>

const joinText = (blocks: readonly { text: string }[]): string => blocks.map((b) => b.text).join('\n\n')

function toolResultText(b: ToolResultBlock): string {
  const text = b.content === undefined ? '' : typeof b.content === 'string' ? b.content : joinText(b.content)
  return b.is_error ? `Error: ${text}` : text
}

/**
 * One Anthropic message as chat messages. A user message's `tool_result` blocks become `tool`
 * messages, placed first (a chat history wants them right after the assistant's calls), then its
 * text; an assistant message's `tool_use` blocks become its `tool_calls`.
 */
function toChatMessages(
  role: 'user' | 'assistant' | 'system',
  content: string | AnthropicContentBlock[],
  path: string,
): ChatMessage[] {
  if (typeof content === 'string') return [{ role, content }]
  const texts: TextBlock[] = []
  const out: ChatMessage[] = []
  const calls: ToolCall[] = []
  for (const [i, b] of content.entries()) {
    if (b.type === 'text') texts.push(b)
    else if (b.type === 'tool_result') {
      if (role !== 'user') throw refusedField(`${path}.${i}`, 'tool_result blocks belong in user messages')
      out.push({ role: 'tool', tool_call_id: b.tool_use_id, content: toolResultText(b) })
    } else if (b.type === 'tool_use') {
      if (role !== 'assistant')
        throw refusedField(`${path}.${i}`, 'tool_use blocks belong in assistant messages')
      calls.push({
        id: b.id,
        type: 'function',
        function: { name: b.name, arguments: JSON.stringify(b.input) },
      })
    }
  }
  if (role === 'assistant') {
    out.push({
      role,
      content: texts.length > 0 ? joinText(texts) : null,
      ...(calls.length > 0 ? { tool_calls: calls } : {}),
    })
  } else if (texts.length > 0 || out.length === 0) {
    out.push({ role, content: joinText(texts) })
  }
  return out
}

function toolChoice(c: AnthropicToolChoice): ChatRequestBody['tool_choice'] {
  switch (c.type) {
    case 'auto':
      return 'auto'
    case 'any':
      return 'required'
    case 'none':
      return 'none'
    case 'tool':
      return { type: 'function', function: { name: c.name } }
  }
}

/** The prompt part of a Messages or count_tokens request as chat request fields. */
export function anthropicPrompt(
  req: AnthropicCountTokensRequest,
): Pick<
  ChatRequestBody,
  'model' | 'messages' | 'tools' | 'tool_choice' | 'parallel_tool_calls' | 'response_format'
> {
  const messages: ChatMessage[] = []
  if (req.system !== undefined) {
    messages.push({
      role: 'system',
      content: typeof req.system === 'string' ? req.system : joinText(req.system),
    })
  }
  for (const [i, m] of req.messages.entries())
    messages.push(...toChatMessages(m.role, m.content, `messages.${i}.content`))
  const choice = req.tool_choice
  // A deferred tool stays out of the prompt, so it cannot be the one the model must call.
  const loaded = req.tools?.filter((t) => t.defer_loading !== true)
  if (choice?.type === 'tool' && !loaded?.some((t) => t.name === choice.name)) {
    throw refusedField('tool_choice.name', `no tool named ${choice.name} is loaded (given and not deferred)`)
  }
  const tools = loaded !== undefined && loaded.length > 0 ? loaded : undefined
  if (tools === undefined && choice?.type === 'any')
    throw refusedField('tool_choice', 'asks for a tool call, and no tool is loaded (given and not deferred)')
  const format = req.output_config?.format
  if (format != null && tools !== undefined && choice?.type !== 'none') {
    throw refusedField(
      'output_config.format',
      'cannot be combined with tools the model may call (one grammar at a time): set tool_choice to {"type":"none"} or send no tools',
    )
  }
  return {
    model: req.model,
    messages,
    // Without tools, a choice of none or auto asks for nothing.
    ...(tools === undefined
      ? {}
      : {
          tools: tools.map((t) => chatTool({ ...t, parameters: t.input_schema })),
          ...(choice === undefined ? {} : { tool_choice: toolChoice(choice) }),
          ...(choice !== undefined && choice.type !== 'none' && choice.disable_parallel_tool_use
            ? { parallel_tool_calls: false }
            : {}),
        }),
    ...(format == null
      ? {}
      : {
          response_format: {
            type: 'json_schema',
            json_schema: { name: 'output', schema: format.schema, strict: true },
          },
        }),
  }
}

/** The chat request that runs a Messages request. */
export function anthropicToChat(req: AnthropicMessagesRequest): ChatCompletionRequest {
  return checkedChat(
    {
      ...anthropicPrompt(req),
      max_tokens: req.max_tokens,
      ...(req.stop_sequences === undefined ? {} : { stop: req.stop_sequences }),
      ...(req.temperature === undefined ? {} : { temperature: req.temperature }),
      ...(req.top_p === undefined ? {} : { top_p: req.top_p }),
      ...(req.top_k === undefined ? {} : { top_k: req.top_k }),
      stream: req.stream === true,
    },
    ANTHROPIC_NAMES,
  )
}

/** The chat request whose prompt a count_tokens request counts. */
export function anthropicCountChat(req: AnthropicCountTokensRequest): ChatCompletionRequest {
  return checkedChat(anthropicPrompt(req), ANTHROPIC_NAMES)
}
