import { throwIfFailed } from '@rbee/client'
import { RbeeError } from '@rbee/common'
import {
  type ModelEntry,
  ModelEntrySchema,
  type ModelMetadata,
  ModelMetadataSchema,
  type OllamaShowResponse,
} from '@rbee/contracts'
import type { HiveManager } from '../hives/hive-manager.js'
import type { Registry } from '../registry/registry.js'
import { modelDetails } from './model-listing.js'

/** Keys left out of `model_info`: the chat templates go in `template`. */
const TEMPLATE_KEY = 'tokenizer.chat_template'

/** A Modelfile that says what the model is (rbee builds no model from one). */
function modelfile(entry: ModelEntry, template: string): string {
  const lines = [`# rbee model ${entry.id} (${entry.source})`, `FROM ${entry.id}`]
  if (template !== '') lines.push(`TEMPLATE """${template}"""`)
  return `${lines.join('\n')}\n`
}

/** `POST /api/show`'s answer from a catalog row and the file's GGUF metadata. */
export function showResponse(entry: ModelEntry, meta: ModelMetadata): OllamaShowResponse {
  const template = meta.metadata[TEMPLATE_KEY]
  const templateText = typeof template === 'string' ? template : ''
  const license = meta.metadata['general.license']
  const modelInfo: OllamaShowResponse['model_info'] = {}
  for (const [key, value] of Object.entries(meta.metadata)) {
    if (!key.startsWith(TEMPLATE_KEY)) modelInfo[key] = value
  }
  modelInfo['general.parameter_count'] = entry.parameter_count
  return {
    modelfile: modelfile(entry, templateText),
    parameters: '',
    template: templateText,
    ...(typeof license === 'string' ? { license } : {}),
    details: modelDetails(entry),
    model_info: modelInfo,
    // Every rbee worker generates and embeds, whatever the model was made for.
    capabilities: ['completion', 'embedding'],
    modified_at: entry.added_at,
  }
}

/**
 * Asks a hive that has `model` in its catalog for the row and the file's metadata (`model_get`
 * with `metadata`), and answers in Ollama's shape.
 * @throws RbeeError `RBEE_MODEL_NOT_FOUND` when no online hive has it; the hive job's error.
 */
export async function showModel(
  deps: { registry: Registry; hives: HiveManager },
  model: string,
  signal: AbortSignal,
): Promise<OllamaShowResponse> {
  const hive = deps.registry.hivesWithModel(model).find((h) => h.online)
  const client = hive ? deps.hives.client(hive.id) : undefined
  if (!hive || !client) {
    throw new RbeeError('RBEE_MODEL_NOT_FOUND', `model '${model}' not found in any online hive's catalog`)
  }
  const job = await client.run(
    { operation: 'model_get', hive_id: hive.id, model, metadata: true },
    { signal },
  )
  const out = await job.collect()
  throwIfFailed(job.jobId, out)
  let entry: ModelEntry | undefined
  let meta: ModelMetadata | undefined
  for (const d of out.data) {
    if (d.action === 'model') entry = ModelEntrySchema.safeParse(d.payload).data
    if (d.action === 'model_metadata') meta = ModelMetadataSchema.safeParse(d.payload).data
  }
  if (!entry || !meta) {
    const why = out.narration.find((n) => n.action === 'model_unavailable')?.human
    throw new RbeeError(
      'RBEE_UPSTREAM',
      `hive ${hive.id} sent no valid metadata for ${model}${why ? `: ${why}` : ''}`,
    )
  }
  return showResponse(entry, meta)
}
