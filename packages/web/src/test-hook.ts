// A test-only entry (a test double's door, not an API): the browser tests feed synthetic fleet
// events through it to measure how long the page takes to draw 100 hives × 10 workers, through
// the same store the live stream feeds. It changes nothing unless a test calls it.
import { QueenStreamEventSchema } from '@rbee/contracts'
import type { FleetStore } from './fleet/fleet-store'

declare global {
  interface Window {
    __rbeeFleetTestHook?: {
      /** Applies the events (parsed like the stream's) and resolves after the next drawn frame. */
      feed: (events: unknown[]) => Promise<void>
    }
  }
}

export function installTestHook(store: FleetStore): () => void {
  window.__rbeeFleetTestHook = {
    feed: (events) => {
      for (const e of events) store.apply(QueenStreamEventSchema.parse(e))
      // Two frames: the store draws on the first, the second comes after its layout and paint.
      return new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve())))
    },
  }
  return () => {
    delete window.__rbeeFleetTestHook
  }
}
