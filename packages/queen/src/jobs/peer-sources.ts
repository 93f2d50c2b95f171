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

/** True when both URLs name IPv4 addresses in the same /24. */
export function sameSegment(a: string, b: string | undefined): boolean {
  if (b === undefined) return false
  const net = (url: string): string | undefined => {
    const host = URL.canParse(url) ? new URL(url).hostname : ''
    return /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
      ? host.split('.').slice(0, 3).join('.')
      : undefined
  }
  const na = net(a)
  return na !== undefined && na === net(b)
}

/**
 * True when a URL names this machine only (loopback) or no address at all (unspecified): what
 * another machine cannot reach it by.
 */
export function localOnly(url: string): boolean {
  if (!URL.canParse(url)) return false
  const host = new URL(url).hostname.toLowerCase()
  return (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) ||
    host === '0.0.0.0' ||
    host === '[::1]' ||
    host === '[::]' ||
    host === '[::ffff:7f00:1]'
  )
}

/**
 * The sources a `model_download` gives its hive, peers first: the ones the operation names
 * (checked against the registry: known hives, at the URL the queen knows them by, never the
 * target itself), or else every other online hive whose catalog has the file intact (its
 * sha256 is in the catalog, so the copy can be checked), healthy ones first, then those on the
 * target's network segment, at most {@link MAX_PEER_SOURCES}. A peer known by a loopback or
 * unspecified address (the queen's in-process hive) is handed only to a target known by one too:
 * another machine would reach itself there.
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
  const targetUrl = registry.hive(target)?.url
  const targetLocal = targetUrl !== undefined && localOnly(targetUrl)
  const peers: HiveEntry[] = []
  for (const h of registry.hives()) {
    if (h.id === target || !h.online || h.incompatible !== null) continue
    if (localOnly(h.url) && !targetLocal) continue
    if ((h.catalog ?? []).some((e) => hasFile(e, op.model))) peers.push(h)
  }
  // Healthy before suspect (a quiet hive may be about to go), then the ones on the target's
  // network segment (the same IPv4 /24: the shortest way on a LAN).
  const near = (h: HiveEntry): boolean => sameSegment(h.url, targetUrl)
  peers.sort((a, b) => Number(a.suspect) - Number(b.suspect) || Number(near(b)) - Number(near(a)))
  return peers.slice(0, MAX_PEER_SOURCES).map((h) => ({ kind: 'peer', hive_id: h.id, url: h.url }))
}
