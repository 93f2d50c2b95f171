import type { FleetStore } from '../fleet/fleet-store'

export function ModelsPage(_props: { store: FleetStore }) {
  return (
    <main>
      <h1>Models</h1>
    </main>
  )
}
