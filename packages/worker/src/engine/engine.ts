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
  /** The stop sequence (of `sampling.stop`) that ended the generation, if one did. */
  stopSequence: string | null
  /** Time spent waiting for a slot. */
  queueMs: number
  /** Time from holding a slot to the first generated token (prompt processing). */
  promptMs: number
  /** Time from the first token to the last. */
  generationMs: number
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
  /** One embedding vector per input, and the tokens they used. */
  embed(inputs: string[], signal: AbortSignal): Promise<{ vectors: number[][]; tokens: number }>
  status(): EngineStatus
  /** Called whenever a slot is taken or freed. */
  onStatusChange(fn: () => void): void
  close(): Promise<void>
}
