// Helpers shared by this package's integration tests. Not exported from the package entry point.
import { delay } from '@rbee/common'

/**
 * Re-checks `check` every `everyMs` until it returns a value other than undefined/false, or
 * fails after `timeoutMs` naming `what`. For conditions no event announces (a count in
 * `/metrics`, a slot freed inside a worker).
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 10_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await check()
      if (v !== undefined && v !== false) return v
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${last})` : ''}`,
      )
    }
    await delay(everyMs)
  }
}

/** Sum of a Prometheus metric's samples whose labels include every `labels` pair. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue
    const m = /^([a-z_:]+)(\{[^}]*\})?\s+([-+0-9.eE]+|NaN)$/.exec(line)
    if (!m || m[1] !== name) continue
    const l = m[2] ?? ''
    if (Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`))) sum += Number(m[3])
  }
  return sum
}
