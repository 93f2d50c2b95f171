import { PEER_HUB_PATH, type PeerSource } from '@rbee/contracts'
import { HfHub } from './hf-hub.js'

/** One place a download can fetch a file from: a peer hive or the hub, both with the hub's URL shape. */
export interface DownloadSource {
  hub: HfHub
  /** For narration: `peer hive-a (10.0.0.2)`, `the hub (https://huggingface.co)`. */
  label: string
  /** Set for a peer: when it fails, the download goes on from the next source. */
  peer: PeerSource | undefined
  /** Attempts (the first transfer and its resumes) before this source is given up. */
  maxAttempts: number | undefined
}

/** The hub, the last resort. */
export function hubSource(hub: HfHub, maxAttempts: number | undefined): DownloadSource {
  return { hub, label: `the hub (${hub.endpoint})`, peer: undefined, maxAttempts }
}

/**
 * A peer hive's catalog, served under `PEER_HUB_PATH`; the node token goes to that hive only
 * (`HfHub` sends its token to its own origin and nowhere else).
 */
export function peerSource(
  peer: PeerSource,
  o: { token: string | undefined; timeoutMs: number; maxAttempts: number },
): DownloadSource {
  const base = peer.url.replace(/\/+$/, '')
  const host = new URL(base).hostname.replace(/^\[|\]$/g, '')
  return {
    hub: new HfHub({
      endpoint: `${base}${PEER_HUB_PATH}`,
      token: o.token,
      timeoutMs: o.timeoutMs,
      refusedHint: `peer ${peer.hive_id} did not accept this hive's node token (do the hives have different tokens?)`,
    }),
    label: `peer ${peer.hive_id} (${host})`,
    peer,
    maxAttempts: o.maxAttempts,
  }
}
