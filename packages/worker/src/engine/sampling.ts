import { RbeeError } from '@rbee/common'
import type { SamplingParams } from '@rbee/contracts'
import type { ResolvedSampling } from './engine.js'

/** Defaults follow llama.cpp's own (`llama-server`), except `max_tokens`, which is bounded. */
export const SAMPLING_DEFAULTS = {
  maxTokens: 512,
  temperature: 0.8,
  topP: 0.95,
  topK: 40,
  minP: 0.05,
  repeatPenalty: 1,
} as const

/** Sampling fields as the routes receive them: OpenAI clients send `null` for "default". */
export type SamplingInput = { [K in keyof SamplingParams]?: SamplingParams[K] | null } & {
  frequency_penalty?: number | null
  presence_penalty?: number | null
}

/**
 * Applies defaults and checks what only the worker knows: `max_tokens` must fit its context.
 * @throws RbeeError `RBEE_VALIDATION` naming `max_tokens`.
 */
export function resolveSampling(
  p: SamplingInput,
  contextSize: number,
  maxTokensField = 'max_tokens',
): ResolvedSampling {
  const maxTokens = p.max_tokens ?? Math.min(SAMPLING_DEFAULTS.maxTokens, contextSize)
  if (maxTokens > contextSize) {
    throw new RbeeError(
      'RBEE_VALIDATION',
      `invalid request body: ${maxTokensField}: ${maxTokens} is more than this worker's context of ${contextSize} tokens`,
      { details: { issues: [{ path: maxTokensField, message: `must be <= ${contextSize}` }] } },
    )
  }
  const stop = p.stop == null ? [] : typeof p.stop === 'string' ? [p.stop] : p.stop
  return {
    maxTokens,
    temperature: p.temperature ?? SAMPLING_DEFAULTS.temperature,
    topP: p.top_p ?? SAMPLING_DEFAULTS.topP,
    topK: p.top_k ?? SAMPLING_DEFAULTS.topK,
    minP: p.min_p ?? SAMPLING_DEFAULTS.minP,
    repeatPenalty: p.repeat_penalty ?? SAMPLING_DEFAULTS.repeatPenalty,
    frequencyPenalty: p.frequency_penalty ?? 0,
    presencePenalty: p.presence_penalty ?? 0,
    seed: p.seed ?? undefined,
    stop,
  }
}
