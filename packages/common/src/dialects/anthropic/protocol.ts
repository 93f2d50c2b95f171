import { AnthropicErrorSchema } from '@rbee/contracts'
import { namedEventProtocol, type StreamProtocol } from '../stream-protocol.js'
import { anthropicErrorBody } from './errors.js'

/** How the queen relays an Anthropic Messages stream. */
export const ANTHROPIC_PROTOCOL: StreamProtocol = namedEventProtocol({
  // Before any output: held back, so a failed request can still move to another worker.
  hold: ['message_start', 'ping', 'content_block_start'],
  errorOf: (body) => AnthropicErrorSchema.safeParse(body).data?.error,
  tokenMarks: ['"type":"content_block_delta"'],
  endMarks: ['{"type":"message_stop"}'],
  errorData: anthropicErrorBody,
})
