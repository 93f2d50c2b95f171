import type {
  ChatCompletionRequest,
  OllamaChatMessage,
  OllamaChatRequest,
  OllamaFormat,
  OllamaGenerateRequest,
  OllamaOptions,
} from '@rbee/contracts'
import { refusedField } from '../../errors.js'
import { type ChatRequestBody, chatTool, checkedChat } from '../dialect.js'
import type { FieldRenames } from '../field-names.js'
import { OLLAMA_GENERATE_OPTIONS, refuseOllamaOptions } from './options.js'

type ChatMessage = ChatRequestBody['messages'][number]
type ToolCall = { id: string; type: 'function'; function: { name: string; arguments: string } }

/** The Ollama fields the chat request's fields came from. */
export const OLLAMA_NAMES: FieldRenames = [
  [/^max_tokens\b/, 'options.num_predict'],
  [
    /^(stop|temperature|top_p|top_k|min_p|seed|repeat_penalty|presence_penalty|frequency_penalty)\b/,
    'options.$1',
  ],
  [/^response_format(?:\.json_schema\.schema)?\b/, 'format'],
]

/** The sampling fields of a chat request for Ollama's `options` (the others refused by name). */
function sampling(options: OllamaOptions | null | undefined): Partial<ChatRequestBody> {
  refuseOllamaOptions(options, OLLAMA_GENERATE_OPTIONS, 'generation')
  const o = options ?? {}
  if (o.num_predict !== undefined && o.num_predict < 1) {
    throw refusedField(
      'options.num_predict',
      'must be 1 or more: rbee bounds every answer (without num_predict, 512 tokens or the context, whichever is less)',
    )
  }
  const out: Partial<ChatRequestBody> = {}
  if (o.num_predict !== undefined) out.max_tokens = o.num_predict
  for (const key of SAMPLING_KEYS) if (o[key] !== undefined) Object.assign(out, { [key]: o[key] })
  // Ollama's stop is a list of any length; a chat request's holds 4.
  if (o.stop !== undefined) out.stop = o.stop
  return out
}

/** Options passed on under the same name (`num_ctx` is the worker's to check; see the routes). */
const SAMPLING_KEYS = [
  'temperature',
  'top_p',
  'top_k',
  'min_p',
  'seed',
  'repeat_penalty',
  'presence_penalty',
  'frequency_penalty',
] as const

/** `format` as a chat request's `response_format`: `json` is any JSON object, a schema is followed. */
function responseFormat(format: OllamaFormat | null | undefined): Partial<ChatRequestBody> {
  if (format == null || format === '') return {}
  if (format === 'json') return { response_format: { type: 'json_object' } }
  return {
    response_format: { type: 'json_schema', json_schema: { name: 'format', schema: format, strict: true } },
  }
}

/**
 * Ollama's messages as chat messages. Ollama's tool calls have no ids: each gets one (its own
 * `id` when it has one), and each `tool` message answers the first unanswered call of the
 * assistant message before it — the first of its `tool_name` when it names one.
 * @throws RbeeError `RBEE_VALIDATION` naming a tool message that answers no call.
 */
function toMessages(messages: readonly OllamaChatMessage[]): ChatMessage[] {
  const out: ChatMessage[] = []
  let open: ToolCall[] = []
  for (const [i, m] of messages.entries()) {
    if (m.role === 'tool') {
      const at = open.findIndex((c) => m.tool_name === undefined || c.function.name === m.tool_name)
      if (at < 0) {
        throw refusedField(
          `messages.${i}`,
          m.tool_name === undefined
            ? 'a tool result with no unanswered tool call before it'
            : `a result of ${m.tool_name}, and no unanswered call of it comes before`,
        )
      }
      const [call] = open.splice(at, 1)
      out.push({ role: 'tool', tool_call_id: call!.id, content: m.content })
      continue
    }
    if (m.role === 'assistant' && m.tool_calls !== undefined && m.tool_calls.length > 0) {
      open = m.tool_calls.map((c, k) => ({
        id: c.id ?? `call_${i}_${k}`,
        type: 'function' as const,
        function: { name: c.function.name, arguments: JSON.stringify(c.function.arguments) },
      }))
      out.push({ role: 'assistant', content: m.content === '' ? null : m.content, tool_calls: [...open] })
      continue
    }
    if (m.tool_calls !== undefined && m.tool_calls.length > 0)
      throw refusedField(`messages.${i}.tool_calls`, 'only assistant messages make tool calls')
    if (m.tool_name !== undefined)
      throw refusedField(`messages.${i}.tool_name`, 'only tool messages name the tool they answer')
    out.push({ role: m.role, content: m.content })
  }
  return out
}

/** The chat request that runs a `/api/chat` request (which has messages). */
export function ollamaChatToChat(req: OllamaChatRequest): ChatCompletionRequest {
  const tools = req.tools != null && req.tools.length > 0 ? req.tools : undefined
  return checkedChat(
    {
      model: req.model,
      messages: toMessages(req.messages ?? []),
      ...sampling(req.options),
      ...(tools === undefined ? {} : { tools: tools.map((t) => chatTool(t.function)) }),
      ...(req.tool_choice == null ? {} : { tool_choice: req.tool_choice }),
      ...responseFormat(req.format),
      stream: req.stream !== false,
    },
    OLLAMA_NAMES,
  )
}

/** The chat request that runs a `/api/generate` request (which has a prompt): `system`, then the prompt. */
export function ollamaGenerateToChat(req: OllamaGenerateRequest): ChatCompletionRequest {
  const messages: ChatMessage[] = []
  if (req.system != null && req.system !== '') messages.push({ role: 'system', content: req.system })
  messages.push({ role: 'user', content: req.prompt ?? '' })
  return checkedChat(
    {
      model: req.model,
      messages,
      ...sampling(req.options),
      ...responseFormat(req.format),
      stream: req.stream !== false,
    },
    OLLAMA_NAMES,
  )
}
