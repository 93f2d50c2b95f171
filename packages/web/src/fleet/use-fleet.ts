import { useEffect, useState } from 'preact/hooks'
import type { FleetView } from './fleet-state'
import type { FleetStore } from './fleet-store'

/** The fleet view, redrawn as the store changes. */
export function useFleet(store: FleetStore): FleetView {
  const [view, setView] = useState(store.view)
  useEffect(() => {
    setView(store.view)
    return store.subscribe(setView)
  }, [store])
  return view
}
