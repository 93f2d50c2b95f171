import { RbeeError } from '@rbee/common'
import type { ModelEntry, OperationOf, PeerSource } from '@rbee/contracts'
import type { HiveEntry, Registry } from '../registry/registry.js'

/** Peers handed to one download at most (each one that fails costs a probe before the next). */
export const MAX_PEER_SOURCES = 3

type ModelDownload = OperationOf<'model_download'>

/** True when `entry` is the file `ref` (`hf:org/repo:file.gguf`) names, or any file of the repo a bare `hf:org/repo` names. */
function hasFile(entry: ModelEntry, ref: string): boolean {
  if (!entry.available || !entry.source.startsWith('hf:')) return false
  return ref.includes(':', 3) ? entry.source === ref : entry.source.startsWith(`${ref}:`)
}

/**
 * The sources a `model_download` gives its hive, peers first: the ones the operation names
 * (checked against the registry: known hives, at the URL the queen knows them by, never the
 * target itself), or else every other online hive whose catalog has the file intact (its
 * sha256 is in the catalog, so the copy can be checked), at most {@link MAX_PEER_SOURCES}.
 * An empty list means the hub only.
 * @throws RbeeError `RBEE_VALIDATION` naming the field for a source that is not a known hive.
 */
export function downloadSources(registry: Registry, op: ModelDownload, target: string): PeerSource[] {
  if (op.sources !== undefined) {
    return op.sources.map((s, i) => {
      const hive = registry.hive(s.hive_id)
      if (!hive || s.hive_id === target) {
        const why = hive ? 'is the hive that downloads' : 'is not a hive the queen knows'
        throw new RbeeError(
          'RBEE_VALIDATION',
          `invalid request body: sources.${i}.hive_id: ${s.hive_id} ${why}`,
        )
      }
      if (s.url.replace(/\/+$/, '') !== hive.url.replace(/\/+$/, '')) {
        throw new RbeeError(
          'RBEE_VALIDATION',
          `invalid request body: sources.${i}.url: hive ${s.hive_id} is at ${hive.url}, not ${s.url}`,
        )
      }
      return s
    })
  }
  if (!op.model.startsWith('hf:')) return []
  const peers: HiveEntry[] = []
  for (const h of registry.hives()) {
    if (h.id === target || !h.online || h.incompatible !== null) continue
    if ((h.catalog ?? []).some((e) => hasFile(e, op.model))) peers.push(h)
  }
  // Healthy before suspect: a quiet hive may be about to go.
  peers.sort((a, b) => Number(a.suspect) - Number(b.suspect))
  return peers.slice(0, MAX_PEER_SOURCES).map((h) => ({ kind: 'peer', hive_id: h.id, url: h.url }))
}
