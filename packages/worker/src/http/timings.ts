import type { Timings } from '@rbee/contracts'
import type { GenerationResult } from '../engine/engine.js'

/** A generation's timings on the wire (the native `end` event, and OpenAI answers' `timings`). */
export function timingsOf(r: GenerationResult): Timings {
  return {
    prompt_tokens: r.promptTokens,
    prompt_ms: r.promptMs,
    generation_ms: r.generationMs,
    // The first token comes out of prompt processing: generation time covers the others.
    tokens_per_s: r.generationMs > 0 ? (Math.max(0, r.tokensOut - 1) * 1000) / r.generationMs : 0,
    queue_ms: r.queueMs,
  }
}
