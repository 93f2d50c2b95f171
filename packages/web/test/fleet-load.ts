// Drives the fleet page with synthetic telemetry through the page's test hook and times each
// update from the events' arrival to the frame after they are drawn. Used by the browser test
// (a generous bound) and by bench/web/fleet-page.mjs (the figures).
import { syntheticTelemetry } from '@rbee/testing'
import type { Page } from 'playwright-core'

declare global {
  interface Window {
    /** The page's test hook (packages/web/src/test-hook.ts). */
    __rbeeFleetTestHook?: { feed: (events: unknown[]) => Promise<void> }
  }
}

export interface FleetLoadResult {
  hives: number
  workers: number
  /** The first feed: every card and row created. */
  firstMs: number
  /** Each later round: every hive's telemetry changed at once. */
  updatesMs: number[]
}

/** Feeds `rounds` rounds of telemetry for `hives` × `workersPerHive` to the page open on Fleet. */
export async function measureFleetPage(
  page: Page,
  o: { hives: number; workersPerHive: number; rounds: number },
): Promise<FleetLoadResult> {
  const timed: number[] = []
  for (let tick = 0; tick <= o.rounds; tick++) {
    const events = syntheticTelemetry({ hives: o.hives, workersPerHive: o.workersPerHive, tick })
    timed.push(
      await page.evaluate(async (evs) => {
        const hook = window.__rbeeFleetTestHook
        if (!hook) throw new Error('the page has no fleet test hook')
        const t0 = performance.now()
        await hook.feed(evs)
        return performance.now() - t0
      }, events),
    )
  }
  return {
    hives: o.hives,
    workers: o.hives * o.workersPerHive,
    firstMs: timed[0]!,
    updatesMs: timed.slice(1),
  }
}

/** The q-quantile (0..1) of `values`. */
export function quantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN
}
