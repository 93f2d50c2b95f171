import { z } from 'zod'
import { IdSchema, TimestampSchema } from './common.js'

/** `hf:org/repo` or `hf:org/repo:file.gguf` (Hugging Face's naming, no path tricks). */
export const HfRefSchema = z
  .string()
  .max(512)
  .regex(
    /^hf:[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*(:[A-Za-z0-9][A-Za-z0-9._/-]*\.gguf)?$/,
    'must look like hf:org/repo or hf:org/repo:file.gguf',
  )
  .refine((s) => !s.includes('..'), 'must not contain ".."')

/**
 * A model as operations name it: a catalog id (`tiny`) or a Hugging Face reference. Anything that
 * starts with `hf:` must be a well-formed reference (`hf:org` is a typo, not a catalog id), so
 * code may branch on the prefix alone.
 */
export const ModelRefSchema = z.union([IdSchema.refine((s) => !s.startsWith('hf:')), HfRefSchema], {
  error: 'must be a catalog id (like "tiny") or hf:org/repo[:file.gguf]',
})
export type ModelRef = z.infer<typeof ModelRefSchema>

/**
 * Where a hive serves the files of its catalog to other hives, below its own URL, in the shape
 * of the Hugging Face hub (`{hive}/v1/peer-hub/api/models/{org}/{repo}`,
 * `{hive}/v1/peer-hub/{org}/{repo}/resolve/main/{file}`, `Range`, the sha256 as `ETag`), for
 * callers with the node token.
 */
export const PEER_HUB_PATH = '/v1/peer-hub'

/**
 * A place a hive may fetch a model from before the hub: another hive that has the file
 * (`url` is that hive's URL; the queen fills it in from its registry). Tried in order; the hub
 * is the last resort.
 */
export const PeerSourceSchema = z
  .object({
    kind: z.literal('peer'),
    hive_id: IdSchema,
    url: z.url({ protocol: /^https?$/ }).max(2048),
  })
  .strict()
export type PeerSource = z.infer<typeof PeerSourceSchema>

/** The peers a `model_download` tries before the hub (at most 8; `[]`: the hub only). */
export const DownloadSourcesSchema = z.array(PeerSourceSchema).max(8)

/** Parts one split model may have in a catalog (llama.cpp's naming allows 99999). */
export const MAX_MODEL_PARTS = 1024

/** One file of a split model. */
export const ModelPartSchema = z.object({
  /** The file name (no directory). */
  file: z.string().min(1).max(512),
  size_bytes: z.int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
})
export type ModelPart = z.infer<typeof ModelPartSchema>

/** One row of a hive's model catalog, as served on the wire. */
export const ModelEntrySchema = z.object({
  id: IdSchema,
  source: z.string(),
  path: z.string(),
  size_bytes: z.int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  architecture: z.string(),
  parameter_count: z.int().min(0),
  quantization: z.string(),
  context_length: z.int().min(0),
  memory_estimate_mb: z.int().min(0),
  added_at: TimestampSchema,
  last_used_at: TimestampSchema.nullable(),
  /** False when the file has vanished or changed on disk: such a model is not served. */
  available: z.boolean(),
  /** Why an unavailable model cannot be served (`file … has vanished`); absent when available. */
  unavailable_reason: z.string().optional(),
  builtin: z.boolean(),
  /**
   * True when the hive rebuilt this entry from the file on disk after its catalog was found
   * corrupt: the id may differ from the one given at import, and the last use is not known.
   * Cleared when the model is downloaded or imported again. Absent from older hives (read: false).
   */
  rebuilt: z.boolean().optional(),
  /**
   * The files of a split model (llama.cpp's `-00001-of-0000N.gguf` parts, side by side), first
   * part first; `path`, `sha256` are the first part's, `size_bytes` all of them together. Absent
   * for a one-file model.
   */
  parts: z.array(ModelPartSchema).min(2).max(MAX_MODEL_PARTS).optional(),
})
export type ModelEntry = z.infer<typeof ModelEntrySchema>

/** The `model_list` job's result (its `model_list` data event): the hive's catalog. */
export const ModelListResultSchema = z.object({ models: z.array(ModelEntrySchema) })
export type ModelListResult = z.infer<typeof ModelListResultSchema>

/**
 * The `import_denied` data of a `model_import` that a hive refused because the path is outside
 * the directories it imports from. It never says whether the file exists.
 */
export const ImportDeniedSchema = z.object({
  hive_id: IdSchema,
  /** The path as the operation gave it. */
  path: z.string(),
  /** Where the hive imports from, its drop dir (`$RBEE_HOME/import`) first. */
  import_dirs: z.array(z.string()).min(1),
})
export type ImportDenied = z.infer<typeof ImportDeniedSchema>

/** Keys of GGUF metadata one `model_metadata` answer carries at most. */
export const MODEL_METADATA_MAX_KEYS = 4096

/**
 * A model file's GGUF metadata as `model_get` with `metadata: true` sends it (`model_metadata`
 * data): every key with its scalar value; arrays, and strings over the hive's size limit, are
 * `null` (their presence is still told).
 */
export const ModelMetadataSchema = z.object({
  model_id: IdSchema,
  metadata: z
    .record(z.string().max(256), z.union([z.string(), z.number(), z.boolean(), z.null()]))
    .refine(
      (m) => Object.keys(m).length <= MODEL_METADATA_MAX_KEYS,
      `at most ${MODEL_METADATA_MAX_KEYS} keys`,
    ),
})
export type ModelMetadata = z.infer<typeof ModelMetadataSchema>
