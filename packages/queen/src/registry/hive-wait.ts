import type { Registry } from './registry.js'

/**
 * Resolves true as soon as hive `hiveId` (or, without it, any hive) comes online (at once if the
 * named one is), false after `ms` without it; rejects with the abort reason when `signal`
 * aborts. `onWaiting` runs once the wait is armed. For work that meets a hive in a short gap (its
 * stream reconnecting, or the hive starting): it waits within its bound instead of failing.
 */
export function waitForHive(
  registry: Registry,
  hiveId: string | undefined,
  ms: number,
  signal: AbortSignal,
  onWaiting?: () => void,
): Promise<boolean> {
  if (hiveId !== undefined && registry.hive(hiveId)?.online) return Promise.resolve(true)
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise((resolve, reject) => {
    const settle = (): void => {
      off()
      clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
    }
    const onAbort = (): void => {
      settle()
      reject(signal.reason)
    }
    const off = registry.on((ev) => {
      if (ev.type !== 'hive_online' || (hiveId !== undefined && ev.hiveId !== hiveId)) return
      settle()
      resolve(true)
    })
    const timer = setTimeout(() => {
      settle()
      resolve(false)
    }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
    onWaiting?.()
  })
}
