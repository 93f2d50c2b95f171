import type { ModelEntry, OllamaModel, OllamaModelDetails, OllamaPs, OllamaTags } from '@rbee/contracts'
import type { Registry } from '../registry/registry.js'
import type { WorkerEntry } from '../registry/worker-entry.js'
import type { FleetModels } from './fleet-models.js'

const MiB = 1024 * 1024
/** What `expires_at` says for a model that is never stopped (Ollama says a far-off date too). */
const NEVER = '9999-12-31T23:59:59.999Z'

/** A parameter count as Ollama writes it: `494.03M`, `8B`, `8.5B`, `137K`. */
export function parameterSize(n: number): string {
  const fmt = (v: number, digits: number, unit: string): string =>
    `${Number.isInteger(v) ? v.toFixed(0) : v.toFixed(digits)}${unit}`
  if (n >= 1e9) return fmt(n / 1e9, 1, 'B')
  if (n >= 1e6) return fmt(n / 1e6, 2, 'M')
  if (n >= 1e3) return `${Math.round(n / 1e3)}K`
  return String(n)
}

/** A model's `details` from its catalog row; what a worker-only model has (nothing) left empty. */
export function modelDetails(entry: ModelEntry | undefined): OllamaModelDetails {
  return {
    parent_model: '',
    format: 'gguf',
    family: entry?.architecture ?? '',
    families: entry ? [entry.architecture] : null,
    parameter_size: entry ? parameterSize(entry.parameter_count) : '',
    quantization_level: entry?.quantization ?? '',
  }
}

/** `GET /api/tags`: every model of the fleet, by catalog id. */
export function ollamaTags(fleet: FleetModels, now = Date.now()): OllamaTags {
  const models: OllamaModel[] = []
  for (const m of fleet.catalog.values()) {
    models.push({
      name: m.id,
      model: m.id,
      modified_at: m.added_at,
      size: m.size_bytes,
      digest: m.sha256,
      details: modelDetails(m),
    })
  }
  for (const id of fleet.workerOnly) {
    const at = new Date(now).toISOString()
    models.push({
      name: id,
      model: id,
      modified_at: at,
      size: 0,
      digest: '',
      details: modelDetails(undefined),
    })
  }
  return { models: models.sort((a, b) => a.name.localeCompare(b.name)) }
}

/**
 * `GET /api/ps`: each model that routable workers serve, once, with the memory they use together
 * and when the last of them would be stopped (`expiresAtMs`, `Infinity` for never).
 */
export function ollamaPs(
  registry: Registry,
  fleet: FleetModels,
  expiresAtMs: (w: WorkerEntry) => number,
): OllamaPs {
  const byModel = new Map<string, WorkerEntry[]>()
  for (const w of registry.workers()) {
    if (!w.routable) continue
    const list = byModel.get(w.model) ?? []
    list.push(w)
    byModel.set(w.model, list)
  }
  const models = [...byModel.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([id, workers]) => {
      const entry = fleet.catalog.get(id)
      const expires = Math.max(...workers.map(expiresAtMs))
      const rss = workers.reduce((s, w) => s + (w.stats?.rss_mb ?? 0), 0)
      const vram = workers.reduce((s, w) => s + (w.stats?.vram_mb ?? 0), 0)
      return {
        name: id,
        model: id,
        size: Math.round((rss + vram) * MiB),
        digest: entry?.sha256 ?? '',
        details: modelDetails(entry),
        expires_at: Number.isFinite(expires) ? new Date(expires).toISOString() : NEVER,
        size_vram: Math.round(vram * MiB),
        workers: workers.length,
      }
    })
  return { models }
}
