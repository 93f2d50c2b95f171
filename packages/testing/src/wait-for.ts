import { setTimeout as delay } from 'node:timers/promises'

/**
 * Re-checks `check` every `everyMs` until it returns something other than undefined/false, or
 * fails after `timeoutMs` naming `what`. For conditions no event announces. Its timer keeps the
 * process alive (unlike `delay` of @rbee/common): a test that waits on nothing else still waits.
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
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`,
      )
    }
    await delay(everyMs)
  }
}
