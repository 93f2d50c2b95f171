import { throwIfFailed } from '@rbee/client'
import { type JobContext, type OperationRunner, RbeeError, remainingSeconds } from '@rbee/common'
import { type FleetStatus, HIVE_OPERATIONS, type Operation } from '@rbee/contracts'
import type { HiveManager } from '../hives/hive-manager.js'
import type { InferenceRouter } from '../proxy/inference-router.js'
import { waitForHive } from '../registry/hive-wait.js'
import type { Registry } from '../registry/registry.js'
import { downloadSources } from './peer-sources.js'

const HIVE_OPERATION_SET = new Set<Operation['operation']>(HIVE_OPERATIONS)

/** Operations after which the hive's catalog has changed. */
const CATALOG_CHANGES = new Set<Operation['operation']>(['model_download', 'model_import', 'model_delete'])

export interface OperationDeps {
  registry: Registry
  hives: HiveManager
  router: InferenceRouter
  fleetStatus: () => FleetStatus
  /** How long an operation for an offline hive waits for it to come back before it fails. */
  hiveWaitMs: number
}

/**
 * Resolves the hive an operation goes to: its `hive_id`, or the only hive there is.
 * @throws RbeeError `RBEE_HIVE_NOT_FOUND` for an unknown hive, `RBEE_BAD_REQUEST` when several
 * hives could be meant.
 */
export function targetHive(registry: Registry, op: Operation): string {
  const id = 'hive_id' in op ? op.hive_id : undefined
  if (id !== undefined) {
    if (!registry.hive(id)) {
      const known = [...registry.hives()].map((h) => h.id)
      throw new RbeeError('RBEE_HIVE_NOT_FOUND', `no hive ${id} (known: ${known.join(', ') || 'none'})`)
    }
    return id
  }
  const all = [...registry.hives()]
  if (all.length === 1) return all[0]!.id
  if (all.length === 0) throw new RbeeError('RBEE_HIVE_NOT_FOUND', 'no hive is known to the queen')
  throw new RbeeError(
    'RBEE_BAD_REQUEST',
    `${op.operation} needs a hive_id: ${all.length} hives are known (${all.map((h) => h.id).join(', ')})`,
  )
}

/** Checked before a job starts, so a wrong target is a 4xx rather than a failed job. */
export function precheckOperation(registry: Registry, op: Operation): void {
  if (op.operation === 'hive_get' || (op.operation === 'infer' && op.hive_id !== undefined))
    targetHive(registry, op)
  else if (HIVE_OPERATION_SET.has(op.operation) && !(op.operation === 'worker_list' && !op.hive_id)) {
    const target = targetHive(registry, op)
    if (op.operation === 'model_download') downloadSources(registry, op, target)
  }
}

/** The queen's jobs: `infer` through the scheduler, fleet questions answered here, the rest forwarded. */
export function createOperationRunner(deps: OperationDeps): OperationRunner {
  return async (op, ctx) => {
    switch (op.operation) {
      case 'infer':
        return deps.router.infer(op, ctx)
      case 'status':
        ctx.data('status', deps.fleetStatus())
        return
      case 'hive_list':
        ctx.data(
          'hive_list',
          [...deps.registry.hives()].map((h) => deps.registry.toHiveRecord(h)),
        )
        return
      case 'hive_get': {
        const id = targetHive(deps.registry, op)
        ctx.data('hive_get', deps.registry.toHiveRecord(deps.registry.hive(id)!))
        return
      }
      case 'queen_check': {
        const c = deps.registry.counts()
        ctx.narrate(
          'queen_check',
          `queen is up: ${c.hivesOnline}/${c.hivesTotal} hives online, ${c.workersTotal} workers`,
        )
        ctx.data('queen_check', { ok: true, ...deps.fleetStatus().queen, hives_online: c.hivesOnline })
        return
      }
      case 'worker_list':
        if (op.hive_id === undefined && deps.registry.hiveCount !== 1) {
          ctx.data('worker_list', { workers: [...deps.registry.workers()].map((w) => w.toRecord()) })
          return
        }
        return forward(deps, op, ctx)
      default:
        return forward(deps, op, ctx)
    }
  }
}

/** Runs a hive operation on its hive and relays the hive job's events as they come. */
async function forward(deps: OperationDeps, op: Operation, ctx: JobContext): Promise<void> {
  const hiveId = targetHive(deps.registry, op)
  const hive = deps.registry.hive(hiveId)!
  const client = deps.hives.client(hiveId)
  if (!client) throw new RbeeError('RBEE_HIVE_NOT_FOUND', `no connection to hive ${hiveId}`)
  if (!hive.online) {
    // Its stream may be reconnecting after a short gap: wait for it (bounded) before failing.
    const why = hive.error ? ` (${hive.error})` : ''
    ctx.narrate('waiting', `hive ${hiveId} is offline${why}: waiting up to ${deps.hiveWaitMs} ms for it`)
    if (!(await waitForHive(deps.registry, hiveId, deps.hiveWaitMs, ctx.signal))) {
      throw new RbeeError(
        'RBEE_HIVE_OFFLINE',
        `hive ${hiveId} is offline${hive.error ? ` (${hive.error})` : ''} and did not come back within ${deps.hiveWaitMs} ms`,
        { retryAfterS: 5 },
      )
    }
  }
  // The hive's job gets what is left of this job's deadline, and stops there itself.
  const timeout = ctx.deadlineAt === undefined ? op.timeout : remainingSeconds(ctx.deadlineAt)
  let sent: Operation = { ...op, hive_id: hiveId, timeout } as Operation
  if (op.operation === 'model_download') {
    const sources = downloadSources(deps.registry, op, hiveId)
    if (op.sources === undefined && op.model.startsWith('hf:')) {
      ctx.narrate(
        'download_sources',
        sources.length === 0
          ? `no other online hive has ${op.model}: ${hiveId} fetches it from the hub`
          : `${hiveId} fetches ${op.model} from peer ${sources.map((s) => s.hive_id).join(', then ')} first, the hub only if that fails`,
      )
    }
    // Sent only when there is something to say: a hive of an earlier release of the same
    // protocol, which has no `sources`, still downloads from the hub when no peer has the file.
    if (sources.length > 0 || op.sources !== undefined) sent = { ...op, hive_id: hiveId, timeout, sources }
  }
  const job = await client.run(sent, { signal: ctx.signal })
  const onAbort = (): void => void job.cancel().catch(() => {})
  ctx.signal.addEventListener('abort', onAbort, { once: true })
  try {
    const out = await job.collect((ev) => {
      switch (ev.kind) {
        case 'narration':
          ctx.narrate(ev.narration.action, `${hiveId}: ${ev.narration.human}`, {
            progress: ev.narration.progress,
            transfer: ev.narration.transfer,
          })
          break
        case 'data':
          ctx.data(ev.data.action, ev.data.payload)
          break
        case 'token':
          ctx.token(ev.token.t, ev.token.i)
          break
        case 'end':
          break
      }
    })
    throwIfFailed(job.jobId, out)
  } finally {
    ctx.signal.removeEventListener('abort', onAbort)
    if (CATALOG_CHANGES.has(op.operation)) await deps.hives.refreshCatalog(hiveId)
  }
}
