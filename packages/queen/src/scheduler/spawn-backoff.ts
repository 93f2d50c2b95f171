import type { RbeeError } from '@rbee/common'

/** How long a device is skipped after the first spawn that failed there; doubles per failure. */
export const SPAWN_BACKOFF_FIRST_MS = 30_000
/** The longest a device is skipped after failed spawns. */
export const SPAWN_BACKOFF_MAX_MS = 600_000
/**
 * Models that failed to start on a device and started on another one before the device is
 * skipped for every model. A model that fails everywhere (a file this llama.cpp cannot load)
 * says nothing about the device; two that load elsewhere but not here do.
 */
export const SPAWN_BACKOFF_MODELS_FOR_DEVICE = 2

interface Mark {
  failures: number
  atMs: number
  untilMs: number
  /** What the hive said: for the queen's log and an admin's error, never a placement reason. */
  error: RbeeError
  /** The model started on another device since. */
  loadsElsewhere: boolean
}

interface DeviceMarks {
  byModel: Map<string, Mark>
  /** Last time a spawn succeeded there (marks before it do not count against other models). */
  okAtMs: number
}

const seconds = (ms: number): string => `${Math.max(1, Math.ceil(ms / 1000))} s`
const ago = (ms: number): string => (ms < 1000 ? 'just now' : `${Math.round(ms / 1000)} s ago`)

export interface SpawnBackoffOptions {
  /** The clock. @default Date.now */
  now?: () => number
}

/**
 * Devices where spawns failed to load, so placement skips them for a while and requests go to
 * the next best device instead of failing the same way again. Keyed by `hive/device`: a model
 * whose spawn failed on a device skips it for `SPAWN_BACKOFF_FIRST_MS`, doubling with each further
 * failure up to `SPAWN_BACKOFF_MAX_MS`, and tries it again after that. Once
 * `SPAWN_BACKOFF_MODELS_FOR_DEVICE` models that started elsewhere are paused on a device, every
 * model skips it. A spawn that succeeds clears its model's mark and vouches for the device.
 */
export class SpawnBackoff {
  readonly #devices = new Map<string, DeviceMarks>()
  readonly #now: () => number

  constructor(options: SpawnBackoffOptions = {}) {
    this.#now = options.now ?? Date.now
  }

  /** Records a failed spawn of `model` on `device` (`hive/device`); returns how long it is skipped. */
  failed(model: string, device: string, error: RbeeError): number {
    const now = this.#now()
    let d = this.#devices.get(device)
    if (!d) {
      d = { byModel: new Map(), okAtMs: 0 }
      this.#devices.set(device, d)
    }
    const failures = (d.byModel.get(model)?.failures ?? 0) + 1
    const ms = Math.min(SPAWN_BACKOFF_MAX_MS, SPAWN_BACKOFF_FIRST_MS * 2 ** (failures - 1))
    d.byModel.set(model, {
      failures,
      atMs: now,
      untilMs: now + ms,
      error,
      loadsElsewhere: false,
    })
    return ms
  }

  /** A spawn of `model` on `device` succeeded: its mark there goes, those elsewhere now count. */
  succeeded(model: string, device: string): void {
    for (const [key, d] of this.#devices) {
      if (key !== device) {
        const mark = d.byModel.get(model)
        if (mark) mark.loadsElsewhere = true
        continue
      }
      d.byModel.delete(model)
      d.okAtMs = this.#now()
      if (d.byModel.size === 0) this.#devices.delete(device)
    }
  }

  /** Why `model` should not be placed on `device` now, or undefined when it may. */
  blocked(model: string, device: string): string | undefined {
    const d = this.#devices.get(device)
    if (!d) return undefined
    const now = this.#now()
    const own = d.byModel.get(model)
    if (own && now < own.untilMs) {
      const times = own.failures > 1 ? ` ${own.failures} times in a row` : ''
      return `spawns of ${model} failed here${times} (${own.error.code}), last ${ago(now - own.atMs)}; next try in ${seconds(own.untilMs - now)}`
    }
    const others = [...d.byModel].filter(
      ([m, k]) => m !== model && k.loadsElsewhere && now < k.untilMs && k.atMs > d.okAtMs,
    )
    if (others.length < SPAWN_BACKOFF_MODELS_FOR_DEVICE) return undefined
    const until = Math.min(...others.map(([, k]) => k.untilMs))
    return `spawns of ${others.map(([m]) => m).join(', ')} failed here and started elsewhere; next try in ${seconds(until - now)}`
  }

  /**
   * The latest failure of `model` on any of `devices` that still keeps it away, and when the
   * first of them is tried again; undefined when none does.
   */
  lastFailure(model: string, devices: Iterable<string>): { error: RbeeError; retryInMs: number } | undefined {
    const now = this.#now()
    let last: Mark | undefined
    let retryInMs = Number.POSITIVE_INFINITY
    for (const device of devices) {
      const mark = this.#devices.get(device)?.byModel.get(model)
      if (!mark || now >= mark.untilMs) continue
      if (!last || mark.atMs >= last.atMs) last = mark
      retryInMs = Math.min(retryInMs, mark.untilMs - now)
    }
    return last && { error: last.error, retryInMs }
  }
}
