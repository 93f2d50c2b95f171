import { z } from 'zod'
import { IdSchema, TimestampSchema } from './common.js'

// Ollama's API (https://github.com/ollama/ollama/blob/main/docs/api.md), the parts rbee serves.
// Field names are Ollama's. Requests are strict: a field rbee does not know is a 400 naming it,
// and a field it knows but cannot honour is refused with the reason (`refused()`), never dropped.

/**
 * The Ollama API version whose shapes rbee follows, answered on `GET /api/version` (clients
 * compare it to decide which fields they may send); rbee's own version goes alongside.
 */
export const OLLAMA_API_VERSION = '0.12.0'

/** A field rbee knows and refuses: present at all, it is a 400 with `why`. */
function refused(why: string) {
  return z.never({ error: why }).optional()
}

/**
 * A model as an Ollama client names it: a catalog id (`tiny`), the same with a tag
 * (`tiny:latest`), or a Hugging Face name (`hf.co/org/repo[:tag]`, `hf:org/repo[:file.gguf]`).
 * The queen resolves it to a catalog id (see the README's rule).
 */
export const OllamaModelNameSchema = z.string().min(1).max(512)

/** Go's duration text (`5m`, `1h30m`, `-1s`, `0`) or a number of seconds as text. */
const DURATION = /^[-+]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+$|^[-+]?\d+(?:\.\d+)?$/

/**
 * How long a model stays loaded after the request: seconds as a number, or Go duration text.
 * Negative means forever, 0 unloads it once the request is done.
 */
export const OllamaKeepAliveSchema = z.union([
  z.number().min(-1e12).max(1e12),
  z.string().max(64).regex(DURATION, 'must be a duration like "5m", "1h30m", "0" or "-1"'),
])
export type OllamaKeepAlive = z.infer<typeof OllamaKeepAliveSchema>

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
}

/**
 * `keep_alive` in milliseconds: `Infinity` for a negative value (forever), 0 for "unload now".
 * The value must have passed `OllamaKeepAliveSchema`.
 */
export function keepAliveMs(value: OllamaKeepAlive): number {
  let ms: number
  if (typeof value === 'number') ms = value * 1000
  else if (/^[-+]?\d+(?:\.\d+)?$/.test(value)) ms = Number(value) * 1000
  else {
    const sign = value.startsWith('-') ? -1 : 1
    ms = 0
    for (const m of value.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g))
      ms += Number(m[1]) * UNIT_MS[m[2]!]!
    ms *= sign
  }
  return ms < 0 ? Number.POSITIVE_INFINITY : Math.round(ms)
}

const count = z.int().min(-1).max(1_048_576)

/**
 * Ollama's `options`: every key Ollama knows (runner and sampling ones, old ones included), so an
 * unknown key is a 400 naming it. Which keys an endpoint honours is its own decision; it refuses
 * the others by name.
 */
export const OllamaOptionsSchema = z
  .object({
    num_ctx: z.int().min(1).max(1_048_576),
    num_batch: count,
    num_gpu: count,
    main_gpu: count,
    num_thread: count,
    num_keep: count,
    use_mmap: z.boolean(),
    use_mlock: z.boolean(),
    low_vram: z.boolean(),
    f16_kv: z.boolean(),
    logits_all: z.boolean(),
    vocab_only: z.boolean(),
    numa: z.boolean(),
    embedding_only: z.boolean(),
    seed: z.int(),
    num_predict: z.int().min(-2).max(1_048_576),
    top_k: z.int().min(0),
    top_p: z.number().min(0).max(1),
    min_p: z.number().min(0).max(1),
    typical_p: z.number().min(0).max(1),
    tfs_z: z.number(),
    repeat_last_n: count,
    temperature: z.number().min(0),
    repeat_penalty: z.number().min(0),
    presence_penalty: z.number(),
    frequency_penalty: z.number(),
    mirostat: z.int().min(0).max(2),
    mirostat_tau: z.number(),
    mirostat_eta: z.number(),
    penalize_newline: z.boolean(),
    stop: z.union([z.string().max(256), z.array(z.string().max(256)).max(16)]),
  })
  .partial()
  .strict()
export type OllamaOptions = z.infer<typeof OllamaOptionsSchema>

/** `POST /api/embed`. */
export const OllamaEmbedRequestSchema = z
  .object({
    model: OllamaModelNameSchema,
    input: z.union([z.string(), z.array(z.string()).max(256)]),
    /** Cut inputs longer than the context instead of refusing them. @default true */
    truncate: z.boolean().nullish(),
    /** Keep the first this many dimensions of each vector (then normalized again). */
    dimensions: z.int().min(1).max(65_536).nullish(),
    keep_alive: OllamaKeepAliveSchema.nullish(),
    options: OllamaOptionsSchema.nullish(),
  })
  .strict()
export type OllamaEmbedRequest = z.infer<typeof OllamaEmbedRequestSchema>

/** `POST /api/embeddings` (Ollama's older, one-prompt endpoint). */
export const OllamaEmbeddingsRequestSchema = z
  .object({
    model: OllamaModelNameSchema,
    prompt: z.string(),
    keep_alive: OllamaKeepAliveSchema.nullish(),
    options: OllamaOptionsSchema.nullish(),
  })
  .strict()
export type OllamaEmbeddingsRequest = z.infer<typeof OllamaEmbeddingsRequestSchema>

/** Durations are nanoseconds, as Ollama sends them. */
export const OllamaEmbedResponseSchema = z.object({
  model: z.string(),
  /** L2-normalized, one per input. */
  embeddings: z.array(z.array(z.number())),
  total_duration: z.int().min(0),
  load_duration: z.int().min(0),
  prompt_eval_count: z.int().min(0),
})
export type OllamaEmbedResponse = z.infer<typeof OllamaEmbedResponseSchema>

/** The vector as the model gives it (not normalized), as Ollama's older endpoint answers. */
export const OllamaEmbeddingsResponseSchema = z.object({ embedding: z.array(z.number()) })
export type OllamaEmbeddingsResponse = z.infer<typeof OllamaEmbeddingsResponseSchema>

export const OllamaModelDetailsSchema = z.object({
  parent_model: z.string(),
  format: z.string(),
  family: z.string(),
  families: z.array(z.string()).nullable(),
  /** `494.03M`, `8.0B`: Ollama's rendering of the parameter count. */
  parameter_size: z.string(),
  quantization_level: z.string(),
})
export type OllamaModelDetails = z.infer<typeof OllamaModelDetailsSchema>

/** One model of `GET /api/tags`. */
export const OllamaModelSchema = z.object({
  name: z.string(),
  model: z.string(),
  modified_at: TimestampSchema,
  /** File size in bytes. */
  size: z.int().min(0),
  /** The file's sha256 (hex). */
  digest: z.string(),
  details: OllamaModelDetailsSchema,
})
export type OllamaModel = z.infer<typeof OllamaModelSchema>

export const OllamaTagsSchema = z.object({ models: z.array(OllamaModelSchema) })
export type OllamaTags = z.infer<typeof OllamaTagsSchema>

/** One loaded model of `GET /api/ps`: every routable worker of it together. */
export const OllamaRunningModelSchema = z.object({
  name: z.string(),
  model: z.string(),
  /** Memory its workers use, in bytes (resident memory and VRAM). */
  size: z.int().min(0),
  digest: z.string(),
  details: OllamaModelDetailsSchema,
  /** When its last worker goes idle long enough to be stopped (far in the future: never). */
  expires_at: TimestampSchema,
  /** The part of `size` in VRAM. */
  size_vram: z.int().min(0),
  /** rbee's addition: how many workers serve it. */
  workers: z.int().min(1),
})
export type OllamaRunningModel = z.infer<typeof OllamaRunningModelSchema>

export const OllamaPsSchema = z.object({ models: z.array(OllamaRunningModelSchema) })
export type OllamaPs = z.infer<typeof OllamaPsSchema>

const MODEL_OR_NAME = { error: 'model is required' }
const modelOrName = <T extends { model?: string | undefined; name?: string | undefined }>(r: T) =>
  r.model !== undefined || r.name !== undefined

/** `POST /api/show`. `name` is Ollama's older spelling of `model`. */
export const OllamaShowRequestSchema = z
  .object({
    model: OllamaModelNameSchema.optional(),
    name: OllamaModelNameSchema.optional(),
    verbose: z
      .literal(false, {
        error:
          'true is not supported: the tokenizer arrays are not read (rbee reads headers in bounded memory)',
      })
      .nullish(),
    system: refused('not supported: rbee shows a model as it is stored and applies no system prompt to it'),
    template: refused('not supported: rbee shows a model as it is stored and applies no template to it'),
    options: refused('not supported: rbee shows a model as it is stored and applies no options to it'),
  })
  .strict()
  .refine(modelOrName, MODEL_OR_NAME)
export type OllamaShowRequest = z.infer<typeof OllamaShowRequestSchema>

/** A GGUF metadata value as `model_info` gives it (arrays are `null`, as Ollama sends them without `verbose`). */
export const OllamaModelInfoValueSchema = z.union([z.string(), z.number(), z.boolean(), z.null()])

export const OllamaShowResponseSchema = z.object({
  /** A Modelfile that describes the model (`FROM`, `TEMPLATE`). */
  modelfile: z.string(),
  parameters: z.string(),
  /** The model's chat template (GGUF `tokenizer.chat_template`, Jinja), `""` when it has none. */
  template: z.string(),
  license: z.string().optional(),
  details: OllamaModelDetailsSchema,
  model_info: z.record(z.string(), OllamaModelInfoValueSchema),
  capabilities: z.array(z.string()),
  modified_at: TimestampSchema,
})
export type OllamaShowResponse = z.infer<typeof OllamaShowResponseSchema>

/** `POST /api/pull`. `name` is Ollama's older spelling of `model`. */
export const OllamaPullRequestSchema = z
  .object({
    model: OllamaModelNameSchema.optional(),
    name: OllamaModelNameSchema.optional(),
    insecure: z
      .literal(false, { error: 'true is not supported: hives always verify TLS to the hub (HF_ENDPOINT)' })
      .nullish(),
    /** NDJSON progress lines, or one answer at the end. @default true */
    stream: z.boolean().nullish(),
    /** rbee's addition: the hive to download to (default: the local hive, else the one with most free memory). */
    hive_id: IdSchema.optional(),
  })
  .strict()
  .refine(modelOrName, MODEL_OR_NAME)
export type OllamaPullRequest = z.infer<typeof OllamaPullRequestSchema>

/** `DELETE /api/delete`. */
export const OllamaDeleteRequestSchema = z
  .object({ model: OllamaModelNameSchema.optional(), name: OllamaModelNameSchema.optional() })
  .strict()
  .refine(modelOrName, MODEL_OR_NAME)
export type OllamaDeleteRequest = z.infer<typeof OllamaDeleteRequestSchema>

/** One line of a pull's NDJSON progress (and its whole answer with `stream: false`). */
export const OllamaProgressSchema = z.object({
  status: z.string(),
  /** `sha256:<hex>` of the file being downloaded. */
  digest: z.string().optional(),
  total: z.int().min(0).optional(),
  completed: z.int().min(0).optional(),
})
export type OllamaProgress = z.infer<typeof OllamaProgressSchema>

export const OllamaVersionSchema = z.object({
  version: z.string(),
  /** rbee's addition: the queen's (or worker's) own version. */
  rbee_version: z.string(),
})
export type OllamaVersion = z.infer<typeof OllamaVersionSchema>

/**
 * Ollama's error shape. rbee adds its stable `code` (and the `error_id` of a server-side error),
 * which Ollama's clients ignore.
 */
export const OllamaErrorSchema = z.object({
  error: z.string(),
  code: z.string().optional(),
  error_id: z.string().max(64).optional(),
})
export type OllamaError = z.infer<typeof OllamaErrorSchema>
