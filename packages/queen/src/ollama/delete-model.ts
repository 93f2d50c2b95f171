import { throwIfFailed } from '@rbee/client'
import { type AuditLog, RbeeError, requestAuditFields } from '@rbee/common'
import type { FastifyRequest } from 'fastify'
import type { HiveManager } from '../hives/hive-manager.js'
import type { Registry } from '../registry/registry.js'
import { fleetModels } from './fleet-models.js'
import { resolveOllamaModel } from './model-names.js'

/**
 * `DELETE /api/delete`: a `model_delete` job on every online hive that has the model, one after
 * the other (audited as admin actions).
 * @throws RbeeError `RBEE_MODEL_NOT_FOUND` when no online hive has it; a hive's refusal (the
 *   built-in model, a model a worker uses: 409).
 */
export async function deleteModel(
  req: FastifyRequest,
  name: string,
  deps: { registry: Registry; hives: HiveManager; audit?: AuditLog | undefined },
): Promise<void> {
  const model = resolveOllamaModel(name, fleetModels(deps.registry))
  const hives = deps.registry.hivesWithModel(model).filter((h) => h.online)
  if (hives.length === 0) throw new RbeeError('RBEE_MODEL_NOT_FOUND', `model '${name}' not found`)
  const fields = { ...requestAuditFields(req), operation: 'model_delete', model }
  for (const hive of hives) {
    const client = deps.hives.client(hive.id)
    if (!client) continue
    deps.audit?.record('admin_action', { ...fields, hive_id: hive.id })
    const job = await client.run({ operation: 'model_delete', hive_id: hive.id, model })
    let outcome = 'error'
    try {
      const out = await job.collect()
      outcome = out.outcome
      throwIfFailed(job.jobId, out)
    } finally {
      deps.audit?.record('admin_result', { ...fields, hive_id: hive.id, job_id: job.jobId, outcome })
      await deps.hives.refreshCatalog(hive.id)
    }
  }
}
