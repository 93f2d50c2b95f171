import {
  type ChatCompletionRequest,
  type OllamaChatRequest,
  OllamaChatRequestSchema,
  type OllamaGenerateRequest,
  OllamaGenerateRequestSchema,
} from '@rbee/contracts'
import { refusedField, validationError } from '../../errors.js'
import type { Dialect } from '../dialect.js'
import { OLLAMA_PROTOCOL } from './protocol.js'
import { ollamaChatToChat, ollamaGenerateToChat } from './request.js'
import { loadAnswer, wholeChat, wholeGenerate } from './response.js'
import { OllamaStream } from './stream.js'

/**
 * A request of Ollama's generating endpoints, read: a generation (with the chat request that runs
 * it), or Ollama's load call (no messages, or an empty prompt), which generates nothing.
 */
export type OllamaRead<Req> =
  | { request: Req; chat: ChatCompletionRequest }
  | { request: Req; chat: undefined }

/** One of Ollama's generating endpoints: a dialect, and how to tell its load call. */
export interface OllamaDialect<Req extends { model: string }> extends Dialect<Req> {
  /**
   * Parses a body; `chat` is undefined for a load call.
   * @throws RbeeError `RBEE_VALIDATION` naming every bad or refused field, as Ollama names it.
   */
  readLoad(body: unknown): OllamaRead<Req>
  /** The answer to a load call (`load`), or an unload call (`unload`, `keep_alive: 0`). */
  loadAnswer(req: Req, reason: 'load' | 'unload'): unknown
}

function ollamaDialect<Req extends { model: string }>(o: {
  name: string
  parse: (body: unknown) => Req
  isLoad: (req: Req) => boolean
  toChat: (req: Req) => ChatCompletionRequest
  whole: Dialect<Req>['whole']
  kind: 'chat' | 'generate'
}): OllamaDialect<Req> {
  const readLoad = (body: unknown): OllamaRead<Req> => {
    const request = o.parse(body)
    return o.isLoad(request) ? { request, chat: undefined } : { request, chat: o.toChat(request) }
  }
  return {
    name: o.name,
    readLoad,
    loadAnswer: (req, reason) => loadAnswer(o.kind, req.model, reason),
    read(body) {
      const r = readLoad(body)
      if (r.chat === undefined)
        throw refusedField(o.kind === 'chat' ? 'messages' : 'prompt', 'is empty: nothing to generate')
      return { request: r.request, chat: r.chat }
    },
    whole: o.whole,
    stream: (req) => new OllamaStream(req.model, o.kind),
    errorShape: 'ollama',
    protocol: OLLAMA_PROTOCOL,
  }
}

/** Ollama's `POST /api/chat`. */
export const OLLAMA_CHAT: OllamaDialect<OllamaChatRequest> = ollamaDialect({
  name: 'ollama-chat',
  parse(body) {
    const parsed = OllamaChatRequestSchema.safeParse(body)
    if (!parsed.success) throw validationError(parsed.error)
    return parsed.data
  },
  isLoad: (req) => (req.messages ?? []).length === 0,
  toChat: ollamaChatToChat,
  whole: (req, c, e) => wholeChat(req.model, c, e),
  kind: 'chat',
})

/** Ollama's `POST /api/generate`. */
export const OLLAMA_GENERATE: OllamaDialect<OllamaGenerateRequest> = ollamaDialect({
  name: 'ollama-generate',
  parse(body) {
    const parsed = OllamaGenerateRequestSchema.safeParse(body)
    if (!parsed.success) throw validationError(parsed.error)
    return parsed.data
  },
  isLoad: (req) => (req.prompt ?? '') === '',
  toChat: ollamaGenerateToChat,
  whole: (req, c, e) => wholeGenerate(req.model, c, e),
  kind: 'generate',
})

export { OLLAMA_PROTOCOL } from './protocol.js'
export { OLLAMA_NAMES } from './request.js'
export { createdAt } from './response.js'
