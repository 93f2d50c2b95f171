import {
  type AnthropicCountTokensRequest,
  AnthropicCountTokensRequestSchema,
  type AnthropicMessagesRequest,
  AnthropicMessagesRequestSchema,
} from '@rbee/contracts'
import { validationError } from '../../errors.js'
import type { Dialect } from '../dialect.js'
import { anthropicErrorBody } from './errors.js'
import { ANTHROPIC_PROTOCOL } from './protocol.js'
import { anthropicPrompt, anthropicToChat } from './request.js'
import { anthropicMessage } from './response.js'
import { AnthropicStream } from './stream.js'

/** Anthropic's Messages API (`POST /v1/messages`). */
export const ANTHROPIC_MESSAGES: Dialect<AnthropicMessagesRequest> = {
  name: 'anthropic',
  parse(body) {
    const parsed = AnthropicMessagesRequestSchema.safeParse(body)
    if (!parsed.success) throw validationError(parsed.error)
    // Translated once here, so a misplaced block is refused like a bad field (by the queen too).
    anthropicPrompt(parsed.data)
    return parsed.data
  },
  model: (req) => req.model,
  streamed: (req) => req.stream === true,
  toChat: anthropicToChat,
  whole: (req, c, e) => anthropicMessage(req.model, c, e),
  stream: (req) => new AnthropicStream(req.model),
  errorBody: anthropicErrorBody,
  protocol: ANTHROPIC_PROTOCOL,
}

/** Parses a `POST /v1/messages/count_tokens` body. @throws RbeeError `RBEE_VALIDATION` naming the fields. */
export function parseAnthropicCountTokens(body: unknown): AnthropicCountTokensRequest {
  const parsed = AnthropicCountTokensRequestSchema.safeParse(body)
  if (!parsed.success) throw validationError(parsed.error)
  // Translated once here, so a misplaced block is refused like a bad field.
  anthropicPrompt(parsed.data)
  return parsed.data
}

export { anthropicErrorBody, anthropicErrorType } from './errors.js'
export { ANTHROPIC_PROTOCOL } from './protocol.js'
export { anthropicPrompt } from './request.js'
