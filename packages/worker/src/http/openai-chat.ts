import {
  ANY_JSON_OBJECT,
  type ChatCompletion,
  type ChatCompletionRequest,
  type ChatMessage,
  type GrammarJsonSchema,
} from '@rbee/contracts'
import type { ChatTurn, GenerationInput, GenerationResult, ToolCallEvent, ToolUse } from '../engine/engine.js'

// An OpenAI chat request in the engine's terms, and the engine's answer in OpenAI's.

type Content = Extract<ChatMessage, { role: 'assistant' }>['content']

/** The text of message content: a string, or its text (and refusal) parts joined. */
function textOf(content: Content): string {
  if (content == null) return ''
  if (typeof content === 'string') return content
  return content.map((p) => (p.type === 'text' ? p.text : p.refusal)).join('')
}

function toTurn(m: ChatMessage): ChatTurn {
  switch (m.role) {
    case 'system':
    case 'developer':
      return { role: 'system', text: textOf(m.content) }
    case 'user':
      return { role: 'user', text: textOf(m.content) }
    case 'tool':
      return { role: 'tool', callId: m.tool_call_id, text: textOf(m.content) }
    case 'assistant':
      return {
        role: 'assistant',
        text: textOf(m.content) + (m.refusal ?? ''),
        toolCalls: (m.tool_calls ?? []).map((c) => ({
          id: c.id,
          name: c.function.name,
          // Checked to be JSON text where the request was parsed.
          arguments: JSON.parse(c.function.arguments) as unknown,
        })),
      }
  }
}

/** The tools of a request and the choice among them; undefined without tools. */
function toolUse(body: ChatCompletionRequest): ToolUse | undefined {
  const tools = (body.tools ?? []).map((t) => ({
    name: t.function.name,
    description: t.function.description,
    parameters: t.function.parameters,
  }))
  if (tools.length === 0) return undefined
  const parallel = body.parallel_tool_calls ?? true
  const choice = body.tool_choice ?? 'auto'
  if (typeof choice === 'string') return { tools, mode: choice, parallel }
  // A named function: the answer is one call of it.
  if (choice.type === 'function')
    return { tools, mode: 'required', allowed: [choice.function.name], parallel: false }
  return {
    tools,
    mode: choice.allowed_tools.mode,
    allowed: choice.allowed_tools.tools.map((t) => t.function.name),
    parallel,
  }
}

/** The answer's JSON schema (normal form); undefined for text. */
function formatOf(body: ChatCompletionRequest): GrammarJsonSchema | undefined {
  const f = body.response_format
  if (f == null || f.type === 'text') return undefined
  return f.type === 'json_object' ? ANY_JSON_OBJECT : f.json_schema.schema
}

/** What the engine generates for an OpenAI chat request. */
export function chatInput(body: ChatCompletionRequest): GenerationInput {
  return { kind: 'chat', turns: body.messages.map(toTurn), tools: toolUse(body), format: formatOf(body) }
}

/** OpenAI's finish reason: `tool_calls` when the answer ends with complete calls. */
export function chatFinishReason(r: GenerationResult): 'stop' | 'length' | 'tool_calls' {
  if (r.stopReason === 'length') return 'length'
  return r.toolCalls.length > 0 ? 'tool_calls' : 'stop'
}

/** The assistant's message of a whole answer. */
export function chatMessage(r: GenerationResult): ChatCompletion['choices'][number]['message'] {
  if (r.toolCalls.length === 0) return { role: 'assistant', content: r.text }
  return {
    role: 'assistant',
    content: r.text === '' ? null : r.text,
    tool_calls: r.toolCalls.map((c) => ({
      id: c.id,
      type: 'function',
      function: { name: c.name, arguments: c.arguments },
    })),
  }
}

/** The `delta.tool_calls` of a streamed piece of a call, as OpenAI sends them. */
export function toolCallDelta(ev: ToolCallEvent) {
  return ev.type === 'start'
    ? [{ index: ev.index, id: ev.id, type: 'function' as const, function: { name: ev.name, arguments: '' } }]
    : [{ index: ev.index, function: { arguments: ev.text } }]
}
