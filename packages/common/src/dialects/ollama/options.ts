import type { OllamaOptions } from '@rbee/contracts'
import { refusedField } from '../../errors.js'

/** The options an embedding honours (`/api/embed`, `/api/embeddings`): a smaller context for its inputs. */
export const OLLAMA_EMBED_OPTIONS: ReadonlySet<string> = new Set(['num_ctx'])

/**
 * The options a generation honours (`/api/chat`, `/api/generate`): sampling, `num_predict`, `stop`,
 * and `num_ctx` (the context the worker must at least have).
 */
export const OLLAMA_GENERATE_OPTIONS: ReadonlySet<string> = new Set([
  'num_ctx',
  'num_predict',
  'temperature',
  'top_p',
  'top_k',
  'min_p',
  'seed',
  'stop',
  'repeat_penalty',
  'presence_penalty',
  'frequency_penalty',
])

/** Options that size or place the model runner: a hive decides these for every worker. */
const RUNNER_OPTIONS: ReadonlySet<string> = new Set([
  'num_batch',
  'num_gpu',
  'main_gpu',
  'num_thread',
  'use_mmap',
  'use_mlock',
  'low_vram',
  'f16_kv',
  'logits_all',
  'vocab_only',
  'numa',
  'embedding_only',
])

/**
 * Refuses the first `options` key an Ollama endpoint does not honour, by name
 * (`options.temperature`) and with the reason, so no option is dropped silently.
 * @param purpose - what the endpoint does, for the message ("embedding").
 * @throws RbeeError `RBEE_VALIDATION` (400).
 */
export function refuseOllamaOptions(
  options: OllamaOptions | null | undefined,
  honoured: ReadonlySet<string>,
  purpose: string,
): void {
  for (const [key, value] of Object.entries(options ?? {})) {
    if (value === undefined || honoured.has(key)) continue
    throw refusedField(
      `options.${key}`,
      RUNNER_OPTIONS.has(key)
        ? 'not supported: the hive places and sizes every worker itself (see its flags)'
        : `not supported for ${purpose}`,
    )
  }
}
