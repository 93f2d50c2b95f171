import type { Backend, ChatMessage, StopReason } from '@rbee/contracts'

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

export type GenerationInput =
  | { kind: 'completion'; prompt: string }
  | { kind: 'chat'; messages: ChatMessage[] }

export interface GenerationRequest {
  input: GenerationInput
  sampling: ResolvedSampling
  /** Aborting stops the generation at once and frees the slot; the result then says `cancelled`. */
  signal: AbortSignal
  /** Called once the request holds a slot and its prompt is known. */
  onStart?: (info: { slot: number; promptTokens: number }) => void
  /** Each piece of text as it is generated. */
  onText: (text: string) => void
}

export interface GenerationResult {
  text: string
  promptTokens: number
  tokensOut: number
  stopReason: StopReason
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
