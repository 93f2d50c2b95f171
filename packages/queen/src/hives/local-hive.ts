import type { AuditLog, Logger } from '@rbee/common'

/**
 * What the queen tells the hive it runs in its own process: where the queen is, the node token,
 * the audit log and logger they share, and the settings a hive takes from the queen.
 */
export interface LocalHiveLink {
  hiveId: string
  /** The URL the hive registers with and its workers heartbeat to. */
  queenUrl: string
  token: string | undefined
  audit: AuditLog | undefined
  logger: Logger
  telemetryIntervalMs: number
  /** Slots and context of the workers it spawns, when the queen was given them. */
  workerSlots: number | undefined
  workerCtxSize: number | undefined
}

/** A hive in the queen's process, as far as the queen needs it. */
export interface LocalHive {
  readonly hiveId: string
  /** Its loopback URL: the queen connects to its stream there. */
  readonly localUrl: string
  /** Binds and starts; the queen closes it (also when this throws). */
  start(): Promise<void>
  /** Stops its workers and its port. Idempotent; never throws. */
  close(): Promise<void>
}

/**
 * Supplies the in-process hive of a zero-config queen. `@rbee/queen` has none of its own (a
 * control-plane queen needs no llama.cpp); `@rbee/local` composes the queen with `@rbee/hive`.
 */
export interface LocalHiveProvider {
  /** The hive's id when none is configured (the host name, made id-safe). */
  defaultHiveId(): string
  create(link: LocalHiveLink): LocalHive
}
