import { formatBytes } from '@rbee/common'

export { formatBytes }

/** `42s`, `3m05s`, `1h02m`. */
export function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return '?'
  const t = Math.max(0, Math.round(s))
  if (t < 60) return `${t}s`
  if (t < 3600) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s`
  return `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m`
}

/** One progress reading. */
export interface Progress {
  bytes: number
  total: number | undefined
  /** 0..1 when the total is known. */
  fraction: number | undefined
  /** Bytes per second over the recent window. */
  rate: number
  /** Seconds left at that rate. */
  etaS: number | undefined
  /** `12.3 MiB / 40.0 MiB (31%), 5.10 MiB/s, ETA 5s`. */
  human: string
}

/**
 * Tracks a transfer's progress: the rate over a sliding window (so a stall shows quickly), and
 * when a report is due (`every` ms, plus the end).
 */
export class ProgressMeter {
  readonly #total: number | undefined
  readonly #windowMs: number
  readonly #everyMs: number
  readonly #points: Array<{ t: number; bytes: number }> = []
  #bytes: number
  #lastReport = -Infinity

  constructor(options: {
    total: number | undefined
    startBytes?: number
    everyMs?: number
    windowMs?: number
  }) {
    this.#total = options.total
    this.#bytes = options.startBytes ?? 0
    this.#everyMs = options.everyMs ?? 500
    this.#windowMs = options.windowMs ?? 5000
    this.#points.push({ t: performance.now(), bytes: this.#bytes })
  }

  /** Records that the transfer now stands at `bytes`. */
  update(bytes: number, now = performance.now()): void {
    this.#bytes = bytes
    this.#points.push({ t: now, bytes })
    while (this.#points.length > 2 && now - this.#points[0]!.t > this.#windowMs) this.#points.shift()
  }

  /** True when a report is due (and marks it as made). */
  due(now = performance.now()): boolean {
    if (now - this.#lastReport < this.#everyMs) return false
    this.#lastReport = now
    return true
  }

  read(now = performance.now()): Progress {
    const first = this.#points[0]!
    const dt = (now - first.t) / 1000
    const rate = dt > 0 ? (this.#bytes - first.bytes) / dt : 0
    const total = this.#total
    const fraction = total && total > 0 ? Math.min(1, this.#bytes / total) : undefined
    const etaS = total !== undefined && rate > 0 ? Math.max(0, total - this.#bytes) / rate : undefined
    const parts = [
      total !== undefined
        ? `${formatBytes(this.#bytes)} / ${formatBytes(total)} (${Math.floor((fraction ?? 0) * 100)}%)`
        : formatBytes(this.#bytes),
      `${formatBytes(Math.round(rate))}/s`,
    ]
    if (etaS !== undefined) parts.push(`ETA ${formatDuration(etaS)}`)
    return { bytes: this.#bytes, total, fraction, rate, etaS, human: parts.join(', ') }
  }
}
