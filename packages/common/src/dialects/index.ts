export {
  ANTHROPIC_MESSAGES,
  anthropicErrorBody,
  anthropicErrorType,
  readAnthropicCountTokens,
} from './anthropic/index.js'
export type { Dialect, DialectStream, TurnEnd, TurnStart } from './dialect.js'
export { type ChatRequestBody, checkedChat } from './dialect.js'
export {
  createdAt as ollamaCreatedAt,
  OLLAMA_CHAT,
  OLLAMA_GENERATE,
  OLLAMA_PROTOCOL,
  type OllamaDialect,
  type OllamaRead,
} from './ollama/index.js'
export { OPENAI_RESPONSES } from './responses/index.js'
export {
  countMarks,
  type FrameError,
  type FrameKind,
  type StreamProtocol,
  sseFrameParts,
} from './stream-protocol.js'
