import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { RotatingLog } from './rotating-log.js'

/** What the audit log records. */
export type AuditEventName =
  /** A request without a valid credential for its route (401). */
  | 'auth_failed'
  /** A valid credential with too little right for its route or operation (403). */
  | 'forbidden'
  /** A credential's first successful use from an address since the daemon started. */
  | 'auth_ok'
  /** An admin action began (model or worker management, shutdown). */
  | 'admin_action'
  /** An admin action ended (its outcome). */
  | 'admin_result'
  /** Refusals dropped by the rate limit in the last second. */
  | 'suppressed'

/** Fields of an audit line besides its time, daemon and event. Never a secret: keys appear as fingerprints. */
export type AuditFields = Record<string, string | number | boolean | null | undefined>

export interface AuditLogOptions {
  /** The JSON-lines file (created 0600, with its directory). */
  path: string
  /** Which daemon writes (`queen-rbee`, `rbee-hive`). */
  daemon: string
  /** Refusal lines (`auth_failed`, `forbidden`) kept per second; the rest are counted. @default 20 */
  refusalsPerSecond?: number
  /** Rotate when the file would grow past this. @default 10 MiB */
  maxBytes?: number
  /** Rotated files kept. @default 5 */
  keep?: number
}

/** Distinct credential/address pairs remembered for `auth_ok` (the set is cleared when full). */
const MAX_SEEN = 10_000

/**
 * The audit log: one JSON line per authentication failure, refusal and admin action, with the
 * credential's fingerprint (never the credential), in a file of its own. Refusals are rate
 * limited (a flood of bad keys writes a bounded number of lines and a count); admin actions never
 * are. Writes are synchronous whole-line appends, so a crash never leaves half a line.
 */
export class AuditLog {
  readonly path: string
  readonly #o: AuditLogOptions
  readonly #daemon: string
  #log: RotatingLog | undefined
  #closed = false
  readonly #perSecond: number
  readonly #seen = new Set<string>()
  #second = 0
  #written = 0
  #dropped = 0

  constructor(options: AuditLogOptions) {
    this.#o = options
    this.path = options.path
    this.#daemon = options.daemon
    this.#perSecond = options.refusalsPerSecond ?? 20
  }

  /**
   * Creates the file (0600, in a 0700 directory when it makes one). Called at start-up, so a
   * path that cannot be written stops the daemon instead of its first refusal.
   * @throws when the file cannot be created.
   */
  open(): void {
    if (this.#log || this.#closed) return
    mkdirSync(dirname(this.#o.path), { recursive: true, mode: 0o700 })
    this.#log = new RotatingLog({
      path: this.#o.path,
      maxBytes: this.#o.maxBytes ?? 10 * 1024 * 1024,
      keep: this.#o.keep ?? 5,
      tailLines: 0,
      mode: 0o600,
    })
  }

  /** Records one event (refusals subject to the rate limit). */
  record(event: AuditEventName, fields: AuditFields): void {
    const now = Math.floor(Date.now() / 1000)
    if (now !== this.#second) {
      if (this.#dropped > 0) this.#write('suppressed', { count: this.#dropped })
      this.#second = now
      this.#written = 0
      this.#dropped = 0
    }
    if (event === 'auth_failed' || event === 'forbidden') {
      if (this.#written >= this.#perSecond) {
        this.#dropped++
        return
      }
      this.#written++
    }
    this.#write(event, fields)
  }

  /** Records `auth_ok` the first time a credential is used from an address. */
  recordFirstUse(key: string, ip: string, fields: AuditFields): void {
    const id = `${key} ${ip}`
    if (this.#seen.has(id)) return
    if (this.#seen.size >= MAX_SEEN) this.#seen.clear()
    this.#seen.add(id)
    this.record('auth_ok', { key, ip, ...fields })
  }

  #write(event: AuditEventName, fields: AuditFields): void {
    this.open()
    this.#log?.write(JSON.stringify({ ts: new Date().toISOString(), daemon: this.#daemon, event, ...fields }))
  }

  close(): void {
    if (this.#closed) return
    if (this.#dropped > 0 && this.#log) this.#write('suppressed', { count: this.#dropped })
    this.#dropped = 0
    this.#closed = true
    this.#log?.close()
  }
}
