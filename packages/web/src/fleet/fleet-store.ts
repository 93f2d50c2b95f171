// Holds the fleet view: events change it as they arrive (cheap), and the page redraws at most
// once per animation frame however many events came in between.
import type { QueenStreamEvent } from '@rbee/contracts'
import { applyEvent, EMPTY_FLEET, type FleetView } from './fleet-state'

export class FleetStore {
  #view: FleetView = EMPTY_FLEET
  readonly #listeners = new Set<(view: FleetView) => void>()
  #frame: number | undefined

  get view(): FleetView {
    return this.#view
  }

  apply(ev: QueenStreamEvent): void {
    const next = applyEvent(this.#view, ev)
    if (next === this.#view) return
    this.#view = next
    this.#frame ??= requestAnimationFrame(() => {
      this.#frame = undefined
      for (const l of this.#listeners) l(this.#view)
    })
  }

  subscribe(listener: (view: FleetView) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }
}
