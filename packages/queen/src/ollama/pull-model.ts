import type { JobStream } from '@rbee/client'
import { throwIfFailed } from '@rbee/client'
import {
  type AuditLog,
  errorBodyIn,
  errorMessage,
  RbeeError,
  requestAuditFields,
  toRbeeError,
} from '@rbee/common'
import type { JobStreamEvent, OllamaProgress, OllamaPullRequest } from '@rbee/contracts'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { HiveManager } from '../hives/hive-manager.js'
import { downloadSources } from '../jobs/peer-sources.js'
import { clientGoneSignal } from '../proxy/client-signal.js'
import type { Registry } from '../registry/registry.js'
import { fleetModels } from './fleet-models.js'
import { pullReference } from './model-names.js'

export interface PullDeps {
  registry: Registry
  hives: HiveManager
  /** The queen's in-process hive, if it runs one. */
  localHiveId: () => string | null
  audit?: AuditLog | undefined
}

/**
 * The hive a pull downloads to: the one named, else the queen's local hive, else the online hive
 * whose device has the most free memory (the likeliest to run the model).
 * @throws RbeeError `RBEE_HIVE_NOT_FOUND`, `RBEE_HIVE_OFFLINE`.
 */
export function pullHive(registry: Registry, localHiveId: string | null, named?: string): string {
  const id = named ?? localHiveId ?? undefined
  if (id !== undefined) {
    const hive = registry.hive(id)
    if (!hive) throw new RbeeError('RBEE_HIVE_NOT_FOUND', `no hive ${id}`)
    if (!hive.online) throw new RbeeError('RBEE_HIVE_OFFLINE', `hive ${id} is offline`, { retryAfterS: 5 })
    return id
  }
  const best = registry.hivesWithFreeMemory(0)[0] ?? [...registry.hives()].find((h) => h.online)
  if (!best) throw new RbeeError('RBEE_HIVE_OFFLINE', 'no hive is online to download to', { retryAfterS: 5 })
  return best.id
}

/**
 * The Ollama progress line a hive's download event stands for: the transfer's figures under the
 * file's digest, and the checksum step; nothing for the other events.
 */
export function progressLine(ev: JobStreamEvent): OllamaProgress | undefined {
  if (ev.kind !== 'narration') return undefined
  const t = ev.narration.transfer
  if (t) {
    const digest = t.sha256 === null ? undefined : `sha256:${t.sha256}`
    return {
      status: `downloading ${digest ?? t.file}`,
      ...(digest === undefined ? {} : { digest }),
      ...(t.total === null ? {} : { total: t.total }),
      completed: t.completed,
    }
  }
  if (ev.narration.action === 'download_verify') return { status: 'verifying sha256 digest' }
  return undefined
}

/** Writes NDJSON lines once the answer has turned into a stream (the first line commits it). */
class NdjsonWriter {
  #committed = false
  constructor(readonly reply: FastifyReply) {}

  get committed(): boolean {
    return this.#committed
  }

  write(line: object): void {
    const raw = this.reply.raw
    if (!this.#committed) {
      this.#committed = true
      this.reply.hijack()
      raw.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-cache' })
      raw.socket?.setNoDelay(true)
    }
    if (!raw.destroyed) raw.write(`${JSON.stringify(line)}\n`)
  }

  end(): void {
    if (!this.reply.raw.destroyed) this.reply.raw.end()
  }
}

/**
 * `POST /api/pull`: a `model_download` job on a hive, told as Ollama's progress lines
 * (`pulling manifest`, `downloading sha256:…` with `total`/`completed`, `verifying sha256
 * digest`, `success`), or one `{"status":"success"}` with `stream: false`. Until the transfer
 * starts, a failure is an ordinary error answer (404 for a repo the hub does not have); after,
 * it is an `{"error": …}` line. A client that goes away cancels the download.
 */
export async function pullModel(
  req: FastifyRequest,
  reply: FastifyReply,
  body: OllamaPullRequest,
  deps: PullDeps,
): Promise<void> {
  const name = body.model ?? body.name ?? ''
  const model = pullReference(name, fleetModels(deps.registry))
  const hiveId = pullHive(deps.registry, deps.localHiveId(), body.hive_id)
  const client = deps.hives.client(hiveId)
  if (!client) throw new RbeeError('RBEE_HIVE_NOT_FOUND', `no connection to hive ${hiveId}`)
  const signal = clientGoneSignal(reply)
  const fields = { ...requestAuditFields(req), operation: 'model_download', model, hive_id: hiveId }
  // Peers that have the file first, the hub last, as for model_download jobs.
  const op = { operation: 'model_download', hive_id: hiveId, model } as const
  const sources = downloadSources(deps.registry, op, hiveId)
  const job: JobStream = await client.run(sources.length > 0 ? { ...op, sources } : op, { signal })
  deps.audit?.record('admin_action', { ...fields, job_id: job.jobId })
  const cancel = (): void => void job.cancel().catch(() => {})
  signal.addEventListener('abort', cancel, { once: true })
  const out = new NdjsonWriter(reply)
  const stream = body.stream ?? true
  let outcome: 'done' | 'error' | 'cancelled' = 'error'
  try {
    let end: { outcome: 'done' | 'error' | 'cancelled'; message: string | null } | undefined
    for await (const ev of job) {
      if (ev.kind === 'end') end = ev
      const line = stream ? progressLine(ev) : undefined
      if (!line) continue
      if (!out.committed) out.write({ status: 'pulling manifest' })
      out.write(line)
    }
    throwIfFailed(job.jobId, end ?? { outcome: 'error', message: 'the download job ended without a result' })
    outcome = 'done'
    // Before "success": a client that lists the models next must find this one.
    await deps.hives.refreshCatalog(hiveId)
    if (!stream) {
      await reply.send({ status: 'success' } satisfies OllamaProgress)
      return
    }
    if (!out.committed) out.write({ status: 'pulling manifest' })
    out.write({ status: 'success' })
    out.end()
  } catch (err) {
    outcome = signal.aborted ? 'cancelled' : 'error'
    if (!out.committed) throw err
    // Pull needs an admin key, whose caller may read server-side details.
    out.write(errorBodyIn('ollama', toRbeeError(err)))
    out.end()
    req.log.warn({ err: errorMessage(err), model, hive_id: hiveId }, 'pull failed mid-stream')
  } finally {
    signal.removeEventListener('abort', cancel)
    deps.audit?.record('admin_result', { ...fields, job_id: job.jobId, outcome })
    if (outcome !== 'done') await deps.hives.refreshCatalog(hiveId)
  }
}
