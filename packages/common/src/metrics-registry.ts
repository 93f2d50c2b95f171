import { collectDefaultMetrics, Registry } from 'prom-client'

/**
 * How often the event-loop lag metric samples, ms. prom-client's default (every 10 ms) woke an
 * idle queen 100 times a second, ~90 µs of CPU each on a small VM (bench/queen/RESULTS.md).
 */
export const EVENT_LOOP_SAMPLE_MS = 250

/**
 * A Prometheus registry of a daemon's own (several daemons may share a process: the queen's
 * local hive, tests), with Node's process metrics under `prefix` (`rbee_hive_`) unless
 * `processMetrics` is false (a daemon embedded in another one's process).
 */
export function createMetricsRegistry(prefix: string, options: { processMetrics?: boolean } = {}): Registry {
  const registry = new Registry()
  if (options.processMetrics !== false) {
    collectDefaultMetrics({ register: registry, prefix, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS })
  }
  return registry
}
