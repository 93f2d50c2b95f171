import { z } from 'zod'

/** Largest `max_tokens` accepted anywhere; a worker also caps it by its context size. */
export const MAX_TOKENS_LIMIT = 131_072

/** One stop sequence, or up to 4 (OpenAI's limit). */
export const StopSchema = z.union([z.string().min(1).max(256), z.array(z.string().min(1).max(256)).max(4)])

/** Sampling parameters shared by every inference entry point, with the ranges we accept. */
export const SamplingParamsSchema = z.object({
  max_tokens: z.int().min(1).max(MAX_TOKENS_LIMIT).optional(),
  temperature: z.number().min(0).max(2).optional(),
  top_p: z.number().gt(0).max(1).optional(),
  top_k: z.int().min(0).max(10_000).optional(),
  min_p: z.number().min(0).max(1).optional(),
  repeat_penalty: z.number().min(0).max(10).optional(),
  seed: z.int().min(0).max(4_294_967_295).optional(),
  stop: StopSchema.optional(),
})
export type SamplingParams = z.infer<typeof SamplingParamsSchema>

/** Why a generation ended. */
export const StopReasonSchema = z.enum(['length', 'stop', 'eos', 'cancelled'])
export type StopReason = z.infer<typeof StopReasonSchema>

/** How long a generation's parts took, in milliseconds. */
export const TimingsSchema = z.object({
  prompt_tokens: z.int().min(0),
  /** From taking a slot to the first token (waiting behind other prompts included). */
  prompt_ms: z.number().min(0),
  /** From the first token to the last. */
  generation_ms: z.number().min(0),
  tokens_per_s: z.number().min(0),
  /** Waiting for a free slot. */
  queue_ms: z.number().min(0),
})
export type Timings = z.infer<typeof TimingsSchema>
