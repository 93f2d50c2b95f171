import type { Transfer } from '@rbee/contracts'

/** A download's figures as the page shows them: bytes so far, rate and time left. */
export interface TransferView {
  completed: number
  total: number | null
  bytesPerS: number | null
  etaS: number | null
  /** The first report (time, bytes): the rate is measured from there. */
  from: { at: number; completed: number }
}

/** Below this much time since the first report, no rate is shown (the first bytes come in a burst). */
const MIN_RATE_WINDOW_MS = 500

/** Folds one progress report (at time `at`, ms) into the view. */
export function nextTransfer(prev: TransferView | null, t: Transfer, at: number): TransferView {
  const from = prev?.from ?? { at, completed: t.completed }
  const elapsed = at - from.at
  const rate = elapsed >= MIN_RATE_WINDOW_MS ? ((t.completed - from.completed) * 1000) / elapsed : null
  const left = t.total === null ? null : t.total - t.completed
  return {
    completed: t.completed,
    total: t.total,
    bytesPerS: rate,
    etaS: left !== null && rate ? left / rate : null,
    from,
  }
}
