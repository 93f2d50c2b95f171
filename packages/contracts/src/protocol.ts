import { z } from 'zod'

/**
 * The rbee release every daemon and the CLI of this build report (`/health`, `WorkerInfo`,
 * `HiveInfo`, `rbee --version`). Releases that share `RBEE_PROTOCOL` work together.
 */
export const RBEE_VERSION = '0.1.0'

/**
 * The wire protocol queen, hives and workers speak, exchanged at hive registration, in every
 * `HiveInfo` and `WorkerInfo`. Raised on any change an older peer would misread; a queen refuses
 * peers of another protocol, and only shows a different release of the same one.
 */
export const RBEE_PROTOCOL = 1

/** A release as reported on the wire (`0.1.0`). */
export const VersionSchema = z.string().min(1).max(64)

/** A protocol number as reported on the wire. */
export const ProtocolSchema = z.int().min(0).max(1_000_000)

/** A peer's release and protocol, as a daemon reports them about itself. */
export interface PeerVersion {
  version: string
  protocol: number
}

/** True when a peer of protocol `theirs` can work with this build. */
export function protocolCompatible(theirs: number): boolean {
  return theirs === RBEE_PROTOCOL
}

/**
 * Why `peer` (e.g. `hive gpu-box`) cannot work with `self` (e.g. `this queen`), naming both
 * releases and protocols; undefined when it can.
 */
export function protocolMismatch(peer: string, theirs: PeerVersion, self: string): string | undefined {
  if (protocolCompatible(theirs.protocol)) return undefined
  return `${peer} runs rbee ${theirs.version} (protocol ${theirs.protocol}) and ${self} runs rbee ${RBEE_VERSION} (protocol ${RBEE_PROTOCOL}): they cannot work together; install the same rbee release on both`
}
