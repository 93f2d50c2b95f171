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
