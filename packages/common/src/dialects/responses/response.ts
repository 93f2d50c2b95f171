import { randomUUID } from 'node:crypto'
import type {
  ChatCompletion,
  ResponsesOutputItem,
  ResponsesRequest,
  ResponsesResponse,
  ResponsesUsage,
} from '@rbee/contracts'
import type { TurnEnd } from '../dialect.js'

/** A fresh id with OpenAI's prefix for its kind (`resp`, `msg`, `fc`). */
export const responsesId = (prefix: 'resp' | 'msg' | 'fc'): string =>
  `${prefix}_${randomUUID().replaceAll('-', '')}`

export function responsesUsage(e: TurnEnd): ResponsesUsage {
  return {
    input_tokens: e.promptTokens,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: e.completionTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: e.promptTokens + e.completionTokens,
  }
}

/** What a response says of itself, beside its output: the request's settings, echoed as OpenAI does. */
export interface ResponseState {
  id: string
  createdAt: number
  status: ResponsesResponse['status']
  output: ResponsesOutputItem[]
  end: TurnEnd | undefined
}

/** A response object for `req` in a given state. */
export function responseObject(req: ResponsesRequest, s: ResponseState): ResponsesResponse {
  return {
    id: s.id,
    object: 'response',
    created_at: s.createdAt,
    status: s.status,
    error: null,
    incomplete_details: s.status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
    model: req.model,
    output: s.output,
    instructions: req.instructions ?? null,
    max_output_tokens: req.max_output_tokens ?? null,
    temperature: req.temperature ?? null,
    top_p: req.top_p ?? null,
    tools: req.tools ?? [],
    tool_choice: req.tool_choice ?? 'auto',
    parallel_tool_calls: req.parallel_tool_calls ?? true,
    text: { format: req.text?.format ?? { type: 'text' } },
    truncation: 'disabled',
    store: false,
    background: false,
    previous_response_id: null,
    reasoning: null,
    metadata: req.metadata ?? {},
    user: req.user ?? null,
    usage: s.end === undefined ? null : responsesUsage(s.end),
    ...(s.end === undefined ? {} : { timings: s.end.timings }),
  }
}

/** A whole chat completion as a response. */
export function wholeResponse(req: ResponsesRequest, c: ChatCompletion, e: TurnEnd): ResponsesResponse {
  const choice = c.choices[0]
  const incomplete = choice?.finish_reason === 'length'
  const status = incomplete ? 'incomplete' : 'completed'
  const output: ResponsesOutputItem[] = []
  if (choice?.message.content) {
    output.push({
      type: 'message',
      id: responsesId('msg'),
      status,
      role: 'assistant',
      content: [{ type: 'output_text', text: choice.message.content, annotations: [], logprobs: [] }],
    })
  }
  for (const call of choice?.message.tool_calls ?? []) {
    output.push({
      type: 'function_call',
      id: responsesId('fc'),
      status: 'completed',
      call_id: call.id,
      name: call.function.name,
      arguments: call.function.arguments,
    })
  }
  return responseObject(req, {
    id: responsesId('resp'),
    createdAt: c.created,
    status,
    output,
    end: e,
  })
}
