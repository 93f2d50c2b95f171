export {
  ANTHROPIC_MESSAGES,
  anthropicErrorBody,
  anthropicErrorType,
  anthropicPrompt,
  parseAnthropicCountTokens,
} from './anthropic/index.js'
export type { Dialect, DialectStream, TurnEnd, TurnStart } from './dialect.js'
export { OPENAI_RESPONSES } from './responses/index.js'
export { countMarks, type FrameKind, type StreamProtocol, sseFrameParts } from './stream-protocol.js'
