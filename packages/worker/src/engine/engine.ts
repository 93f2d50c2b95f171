import type { Backend, GrammarJsonSchema, StopReason } from '@rbee/contracts'

/** Sampling settings after defaults are applied. */
export interface ResolvedSampling {
  maxTokens: number
  temperature: number
  topP: number
  topK: number
  minP: number
  repeatPenalty: number
  frequencyPenalty: number
  presencePenalty: number
  seed: number | undefined
  stop: string[]
}

/**
 * One turn of a conversation, whichever API it came by. A tool turn answers the assistant's call
 * with `callId` (or, without one, its first call not yet answered).
 */
export type ChatTurn =
  | { role: 'system'; text: string }
  | { role: 'user'; text: string }
  | { role: 'assistant'; text: string; toolCalls: ToolCallTurn[] }
  | { role: 'tool'; callId: string | undefined; text: string }

/** A tool call the assistant made earlier in the conversation. */
export interface ToolCallTurn {
  id: string
  name: string
  /** Its arguments, parsed from JSON. */
  arguments: unknown
}

/** A function the model may call; its arguments are generated under a grammar of `parameters`. */
export interface ToolSpec {
  name: string
  description?: string | undefined
  /** Normal form (`normalizeJsonSchema`); undefined when it takes no arguments. */
  parameters?: GrammarJsonSchema | undefined
}

/** The tools of a chat and how the model may use them. */
export interface ToolUse {
  /** Every declared tool: all are shown to the model (except with mode `none`). */
  tools: ToolSpec[]
  /** `none`: text only; `auto`: text or calls; `required`: the answer is calls. */
  mode: 'none' | 'auto' | 'required'
  /** The names the model may call; undefined for all of them. */
  allowed?: string[] | undefined
  /** Several calls in one answer (false: at most one). */
  parallel: boolean
}

export type GenerationInput =
  | { kind: 'completion'; prompt: string }
  | {
      kind: 'chat'
      turns: ChatTurn[]
      tools?: ToolUse | undefined
      /** The answer is JSON under this schema (normal form); undefined for free text. */
      format?: GrammarJsonSchema | undefined
    }

/** A streamed tool call: first its id and name, then pieces of its arguments' JSON text. */
export type ToolCallEvent =
  | { type: 'start'; index: number; id: string; name: string }
  | { type: 'arguments'; index: number; text: string }

/** A tool call the model made: `arguments` is JSON text valid for the tool's schema. */
export interface GeneratedToolCall {
  id: string
  name: string
  arguments: string
}

export interface GenerationRequest {
  input: GenerationInput
  sampling: ResolvedSampling
  /** Aborting stops the generation at once and frees the slot; the result then says `cancelled`. */
  signal: AbortSignal
  /** Called once the request holds a slot and its prompt is known. */
  onStart?: (info: { slot: number; promptTokens: number }) => void
  /** Each piece of text as it is generated. */
  onText: (text: string) => void
  /** Each piece of a tool call as it is generated (chats with tools). */
  onToolCall?: ((event: ToolCallEvent) => void) | undefined
}

export interface GenerationResult {
  text: string
  /** The tool calls the model made, in order (complete ones only). */
  toolCalls: GeneratedToolCall[]
  promptTokens: number
  tokensOut: number
  stopReason: StopReason
  /** The stop sequence (of `sampling.stop`) that ended the generation, if one did. */
  stopSequence: string | null
  /** Time spent waiting for a slot. */
  queueMs: number
  /** Time from holding a slot to the first generated token (prompt processing). */
  promptMs: number
  /** Time from the first token to the last. */
  generationMs: number
}

/** How `Engine.embed` treats its inputs. */
export interface EmbedOptions {
  /** Cut an input longer than the room to its first tokens instead of refusing it. @default false */
  truncate?: boolean | undefined
  /** A context smaller than the engine's own for these inputs (they get its tokens, less BOS and EOS). */
  contextSize?: number | undefined
  /** The request field the inputs came from, as errors name it. @default 'input' */
  field?: string | undefined
}

/** What `Engine.rank` found: one relevance probability per document, and the tokens evaluated. */
export interface RankResult {
  scores: number[]
  tokens: number
}

export interface EngineStatus {
  slotsTotal: number
  slotsBusy: number
}

/**
 * What the HTTP layer needs from an inference engine. The real one is node-llama-cpp
 * (`LlamaEngine`); the interface keeps HTTP and engine testable apart.
 */
export interface Engine {
  readonly backend: Backend
  readonly contextSize: number
  /** Runs one generation in a free slot; waits briefly for one, then throws `RBEE_BUSY`. */
  generate(req: GenerationRequest): Promise<GenerationResult>
  /**
   * The prompt tokens an input would take (a chat with its template), without generating.
   * @throws RbeeError `RBEE_PROMPT_TOO_LONG` for one that cannot fit the context.
   */
  countTokens(input: GenerationInput, signal: AbortSignal): Promise<number>
  /** The context an embedding input gets at most (its tokens, BOS and EOS included). */
  readonly embeddingContextSize: number
  /** One embedding vector per input, and the tokens they used. */
  embed(
    inputs: string[],
    signal: AbortSignal,
    options?: EmbedOptions,
  ): Promise<{ vectors: number[][]; tokens: number }>
  /**
   * How relevant each document is to the query, by the model's classification head (a reranker).
   * @throws RbeeError `RBEE_BAD_REQUEST` naming why the model cannot rank.
   */
  rank(query: string, documents: string[], signal: AbortSignal): Promise<RankResult>
  status(): EngineStatus
  /** Called whenever a slot is taken or freed. */
  onStatusChange(fn: () => void): void
  close(): Promise<void>
}
