import { keepAliveMs, type OllamaKeepAlive } from '@rbee/contracts'
import type { Registry } from '../registry/registry.js'
import type { WorkerEntry } from '../registry/worker-entry.js'

/**
 * What an Ollama request's `keep_alive` does to the worker it runs on: sets the worker's idle
 * limit (none given: its model's TTL again). The queen honours it; workers never see it.
 */
export const keepAliveOnDispatch =
  (registry: Registry, value: OllamaKeepAlive | null | undefined) =>
  (w: WorkerEntry): void =>
    registry.setKeepAlive(w, value == null ? null : keepAliveMs(value))
