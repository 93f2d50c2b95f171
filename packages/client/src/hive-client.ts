import { RbeeError } from '@rbee/common/base'
import {
  type Capabilities,
  CapabilitiesSchema,
  HiveStreamEventSchema,
  type ModelEntry,
  ModelEntrySchema,
  type OperationOf,
  type WorkerSpawnResult,
  WorkerSpawnResultSchema,
} from '@rbee/contracts'
import { z } from 'zod'
import type { EventSubscription } from './event-subscription.js'
import { throwIfFailed } from './job-stream.js'
import { type HeartbeatOptions, ServiceClient } from './service-client.js'

/** The `model_list` result: `{ models: ModelEntry[] }` (a bare array is accepted too). */
export const ModelListPayloadSchema = z.union([
  z.object({ models: z.array(ModelEntrySchema) }).transform((p) => p.models),
  z.array(ModelEntrySchema),
])

/** Typed client of one `rbee-hive`. */
export class HiveClient extends ServiceClient {
  /** `GET /v1/capabilities`: the hive's devices. */
  capabilities(signal?: AbortSignal): Promise<Capabilities> {
    return this.http.json('GET', '/v1/capabilities', CapabilitiesSchema, { signal })
  }

  /** The hive's model catalog (a `model_list` job, whose payload is `{ models }`). */
  async models(signal?: AbortSignal): Promise<ModelEntry[]> {
    const job = await this.run({ operation: 'model_list' }, { signal })
    return job.result(ModelListPayloadSchema)
  }

  /**
   * Spawns a worker (a `worker_spawn` job) and resolves once it is ready.
   * @param onNarration sees the hive's progress lines.
   */
  async spawnWorker(
    op: Omit<OperationOf<'worker_spawn'>, 'operation'>,
    options: { signal?: AbortSignal; onNarration?: (human: string) => void } = {},
  ): Promise<WorkerSpawnResult> {
    const job = await this.run({ operation: 'worker_spawn', ...op }, { signal: options.signal })
    const onAbort = (): void => void job.cancel().catch(() => {})
    options.signal?.addEventListener('abort', onAbort, { once: true })
    try {
      const out = await job.collect((ev) => {
        if (ev.kind === 'narration') options.onNarration?.(ev.narration.human)
      })
      throwIfFailed(job.jobId, out)
      for (const d of out.data.toReversed()) {
        const r = WorkerSpawnResultSchema.safeParse(d.payload)
        if (r.success) return r.data
      }
      throw new RbeeError(
        'RBEE_UPSTREAM',
        `worker_spawn job ${job.jobId} finished without a WorkerSpawnResult`,
      )
    } finally {
      options.signal?.removeEventListener('abort', onAbort)
    }
  }

  /** Subscribes to the hive's telemetry stream (`GET /v1/heartbeats/stream`). */
  heartbeats(
    options: HeartbeatOptions<typeof HiveStreamEventSchema>,
  ): EventSubscription<typeof HiveStreamEventSchema> {
    return this.subscribe(HiveStreamEventSchema, options)
  }
}
