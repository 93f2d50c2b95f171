import {
  AnthropicCountTokensRequestSchema,
  type AnthropicMessagesRequest,
  AnthropicMessagesRequestSchema,
  type ChatCompletionRequest,
} from '@rbee/contracts'
import { validationError } from '../../errors.js'
import type { Dialect } from '../dialect.js'
import { ANTHROPIC_PROTOCOL } from './protocol.js'
import { anthropicCountChat, anthropicToChat } from './request.js'
import { anthropicMessage } from './response.js'
import { AnthropicStream } from './stream.js'

/** Anthropic's Messages API (`POST /v1/messages`). */
export const ANTHROPIC_MESSAGES: Dialect<AnthropicMessagesRequest> = {
  name: 'anthropic',
  read(body) {
    const parsed = AnthropicMessagesRequestSchema.safeParse(body)
    if (!parsed.success) throw validationError(parsed.error)
    return { request: parsed.data, chat: anthropicToChat(parsed.data) }
  },
  whole: (req, c, e) => anthropicMessage(req.model, c, e),
  stream: (req) => new AnthropicStream(req.model),
  errorShape: 'anthropic',
  protocol: ANTHROPIC_PROTOCOL,
}

/**
 * A `POST /v1/messages/count_tokens` body as the chat request whose prompt it counts.
 * @throws RbeeError `RBEE_VALIDATION` naming the fields.
 */
export function readAnthropicCountTokens(body: unknown): ChatCompletionRequest {
  const parsed = AnthropicCountTokensRequestSchema.safeParse(body)
  if (!parsed.success) throw validationError(parsed.error)
  return anthropicCountChat(parsed.data)
}

export { anthropicErrorBody, anthropicErrorType } from './errors.js'
export { ANTHROPIC_PROTOCOL } from './protocol.js'
