import type { ModelEntry } from '@rbee/contracts'
import type { Registry } from '../registry/registry.js'

/** The fleet's models as Ollama's endpoints list them: catalog rows, and models only workers know. */
export interface FleetModels {
  /** Each available catalog model of an online hive (the first hive's row when several have it). */
  catalog: ReadonlyMap<string, ModelEntry>
  /** Models a routable worker serves that no online hive's catalog has. */
  workerOnly: ReadonlySet<string>
}

/** Reads the fleet's models from the registry (catalogs as last fetched). */
export function fleetModels(registry: Registry): FleetModels {
  const catalog = new Map<string, ModelEntry>()
  for (const hive of registry.hives()) {
    if (!hive.online) continue
    for (const m of hive.catalog ?? []) if (m.available && !catalog.has(m.id)) catalog.set(m.id, m)
  }
  const workerOnly = new Set<string>()
  for (const w of registry.workers()) if (w.routable && !catalog.has(w.model)) workerOnly.add(w.model)
  return { catalog, workerOnly }
}
