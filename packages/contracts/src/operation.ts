import { z } from 'zod'
import { IdSchema } from './common.js'
import { TimeoutSecondsSchema } from './deadline.js'
import { BUILTIN_MODEL_ID } from './defaults.js'
import { DownloadSourcesSchema, ModelRefSchema } from './model.js'
import { PriorityValueSchema } from './priority.js'
import { SamplingParamsSchema } from './sampling.js'
import { BackendRequestSchema } from './worker.js'

const HiveTarget = { hive_id: IdSchema.optional() }

/**
 * Fields every job takes. `timeout`: seconds the job may run (queue wait, worker spawn and
 * generation included); then it stops and ends with `[ERROR] RBEE_DEADLINE_EXCEEDED: …`. An
 * `X-Request-Timeout` or `X-Request-Deadline` header on `POST /v1/jobs` does the same; the
 * earliest limit wins.
 */
const JobFields = { timeout: TimeoutSecondsSchema.optional() }

const DeviceIndexSchema = z.int().min(0).max(63)
/** One device index, or several (distinct) for a model split across GPUs. */
export const DeviceSelectionSchema = z.union([
  DeviceIndexSchema,
  z
    .array(DeviceIndexSchema)
    .min(1)
    .max(16)
    .refine((l) => new Set(l).size === l.length, 'device indexes must differ'),
])
export type DeviceSelection = z.infer<typeof DeviceSelectionSchema>

/** A device selection as a list (`undefined`: none given). */
export function deviceList(selection: DeviceSelection | undefined): number[] | undefined {
  return selection === undefined ? undefined : typeof selection === 'number' ? [selection] : [...selection]
}

/**
 * What a job does: a tagged union on `operation` (snake_case names from the seed). Hive-targeted
 * operations carry an optional `hive_id`: the queen forwards them there, a hive checks it is its own.
 */
export const OperationSchema = z.discriminatedUnion('operation', [
  z.object({ operation: z.literal('status'), ...JobFields }).strict(),
  SamplingParamsSchema.extend({
    operation: z.literal('infer'),
    model: ModelRefSchema.default(BUILTIN_MODEL_ID),
    prompt: z.string().min(1).max(1_000_000),
    /** Its place in the model's queue (see `REQUEST_PRIORITY_HEADER`). @default its key's, else its model's */
    priority: PriorityValueSchema.optional(),
    ...HiveTarget,
    ...JobFields,
  }).strict(),
  z
    .object({
      operation: z.literal('worker_spawn'),
      ...HiveTarget,
      ...JobFields,
      model: ModelRefSchema,
      worker: BackendRequestSchema.default('auto'),
      /**
       * The GPU index, or indexes to split the model across (layer split). Unset: the hive picks
       * the device that fits (the CPU when no GPU does, or for `worker: cpu`).
       */
      device: DeviceSelectionSchema.optional(),
      slots: z.int().min(1).max(64).optional(),
      ctx_size: z.int().min(128).max(1_048_576).optional(),
    })
    .strict(),
  z.object({ operation: z.literal('worker_list'), ...HiveTarget, ...JobFields }).strict(),
  z.object({ operation: z.literal('worker_get'), ...HiveTarget, ...JobFields, worker_id: IdSchema }).strict(),
  z
    .object({ operation: z.literal('worker_stop'), ...HiveTarget, ...JobFields, worker_id: IdSchema })
    .strict(),
  z
    .object({
      operation: z.literal('model_download'),
      ...HiveTarget,
      ...JobFields,
      model: ModelRefSchema,
      /**
       * Hives to fetch the file from before the hub. Unset: the queen picks an online hive whose
       * catalog has the file; `[]`: the hub only.
       */
      sources: DownloadSourcesSchema.optional(),
    })
    .strict()
    .refine((op) => !op.sources?.length || op.model.startsWith('hf:'), {
      path: ['sources'],
      message: 'peers are for hf: references only (a catalog id is already on the hive)',
    }),
  z
    .object({
      operation: z.literal('model_import'),
      ...HiveTarget,
      ...JobFields,
      path: z.string().min(1).max(4096),
      id: IdSchema.optional(),
    })
    .strict(),
  z.object({ operation: z.literal('model_list'), ...HiveTarget, ...JobFields }).strict(),
  z
    .object({
      operation: z.literal('model_get'),
      ...HiveTarget,
      ...JobFields,
      model: ModelRefSchema,
      /** Also send the file's GGUF metadata (a `model_metadata` data event, `ModelMetadata`). */
      metadata: z.boolean().optional(),
    })
    .strict(),
  z
    .object({ operation: z.literal('model_delete'), ...HiveTarget, ...JobFields, model: ModelRefSchema })
    .strict(),
  z.object({ operation: z.literal('hive_list'), ...JobFields }).strict(),
  z.object({ operation: z.literal('hive_get'), hive_id: IdSchema, ...JobFields }).strict(),
  z.object({ operation: z.literal('queen_check'), ...JobFields }).strict(),
  z.object({ operation: z.literal('hive_check'), ...HiveTarget, ...JobFields }).strict(),
])
export type Operation = z.infer<typeof OperationSchema>
/** The operation names, e.g. `'worker_spawn'`. */
export type OperationName = Operation['operation']
/** The operation variant with a given name. */
export type OperationOf<N extends OperationName> = Extract<Operation, { operation: N }>

/** The operations a hive serves itself; the queen forwards them to the hive named by `hive_id`. */
export const HIVE_OPERATIONS = [
  'worker_spawn',
  'worker_list',
  'worker_get',
  'worker_stop',
  'model_download',
  'model_import',
  'model_list',
  'model_get',
  'model_delete',
  'hive_check',
] as const satisfies readonly OperationName[]

/**
 * Who may start each operation through the queen: any client key (`user`), or an admin key
 * (`admin`: model and worker management). Hives take every operation from the node token.
 */
export const OPERATION_ACCESS = {
  status: 'user',
  infer: 'user',
  worker_spawn: 'admin',
  worker_list: 'user',
  worker_get: 'user',
  worker_stop: 'admin',
  model_download: 'admin',
  model_import: 'admin',
  model_list: 'user',
  model_get: 'user',
  model_delete: 'admin',
  hive_list: 'user',
  hive_get: 'user',
  queen_check: 'user',
  hive_check: 'user',
} as const satisfies Record<OperationName, 'user' | 'admin'>
