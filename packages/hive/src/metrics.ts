import { createMetricsRegistry } from '@rbee/common'
import type { Device, HiveStreamEvent, HiveWorker } from '@rbee/contracts'
import { Counter, Gauge } from 'prom-client'
import type { ModelDownloads } from './downloads/model-downloads.js'

const MIB = 1024 * 1024

/** Values read when `/metrics` is scraped (so gauges never go stale). */
export interface HiveMetricsSources {
  devices: () => Promise<readonly Device[]>
  workers: () => Iterable<HiveWorker>
}

/** What downloads look like from the operations that run them. */
export type Downloads = Pick<ModelDownloads, 'download'>

/**
 * The hive's Prometheus metrics, named as the queen's (`rbee_hive_*`), on a registry of its own:
 * devices and their memory, workers by state, spawns, crashes and restarts, downloads by
 * outcome, their bytes and retries.
 */
export class HiveMetrics {
  readonly registry
  readonly #spawns: Counter
  readonly #crashes: Counter
  readonly #restarts: Counter
  readonly #downloads: Counter<'outcome'>
  readonly #downloadBytes: Counter
  readonly #downloadRetries: Counter
  readonly #downloading: Gauge
  readonly #peerBytes: Counter
  readonly #peerBusy: Counter

  /** `processMetrics: false` for a hive inside another daemon's process (the queen's local hive). */
  constructor(sources: HiveMetricsSources, options: { processMetrics?: boolean } = {}) {
    this.registry = createMetricsRegistry('rbee_hive_', options)
    const registers = [this.registry]
    const counter = (name: string, help: string): Counter => new Counter({ name, help, registers })
    this.#spawns = counter('rbee_hive_worker_spawns_total', 'Worker processes started (restarts included)')
    this.#crashes = counter(
      'rbee_hive_worker_crashes_total',
      'Workers that exited when nobody asked them to (a crash, a kill, a failed load)',
    )
    this.#restarts = counter(
      'rbee_hive_worker_restarts_total',
      'Crashed workers the restart policy started again',
    )
    this.#downloads = new Counter({
      name: 'rbee_hive_downloads_total',
      help: 'Model downloads by outcome (done, skipped: already here, followed: another job transferred the file, failed, cancelled)',
      labelNames: ['outcome'],
      registers,
    })
    this.#downloadBytes = counter(
      'rbee_hive_download_bytes_total',
      'Bytes of the models downloads finished (checked and in the catalog)',
    )
    this.#downloadRetries = counter('rbee_hive_download_retries_total', 'Interrupted transfers resumed')
    this.#peerBytes = counter(
      'rbee_hive_peer_bytes_sent_total',
      'Bytes of model files sent to peer hives (/v1/peer-hub)',
    )
    this.#peerBusy = counter(
      'rbee_hive_peer_busy_total',
      'Requests for a model file a peer hive was told to retry later (--peer-max-transfers reached)',
    )
    this.#downloading = new Gauge({
      name: 'rbee_hive_downloads_active',
      help: 'Downloads running now',
      registers,
    })
    new Gauge({
      name: 'rbee_hive_workers',
      help: 'Workers of this hive, by state (given_up: crashed too often, no longer restarted)',
      labelNames: ['state'],
      registers,
      collect() {
        this.reset()
        const counts = new Map<string, number>()
        for (const w of sources.workers()) {
          const state = w.given_up !== null ? 'given_up' : w.worker.status
          counts.set(state, (counts.get(state) ?? 0) + 1)
        }
        for (const [state, n] of counts) this.set({ state }, n)
      },
    })
    // One read of the devices serves the three device gauges of a scrape.
    let devices: Promise<readonly Device[]> | undefined
    const scrapeDevices = (): Promise<readonly Device[]> => {
      devices ??= sources.devices().finally(() => {
        devices = undefined
      })
      return devices
    }
    new Gauge({
      name: 'rbee_hive_devices',
      help: 'Compute devices of this hive, by type (cpu, gpu)',
      labelNames: ['type'],
      registers,
      async collect() {
        const list = await scrapeDevices()
        this.reset()
        for (const type of ['cpu', 'gpu'] as const) {
          this.set({ type }, list.filter((d) => d.type === type).length)
        }
      },
    })
    const deviceMemory = (name: string, what: string, mb: (d: Device) => number): void => {
      new Gauge({
        name,
        help: `${what} of each device (VRAM for a GPU, RAM for the CPU)`,
        labelNames: ['device', 'type'],
        registers,
        async collect() {
          const list = await scrapeDevices()
          this.reset()
          for (const d of list) this.set({ device: d.id, type: d.type }, mb(d) * MIB)
        },
      })
    }
    deviceMemory('rbee_hive_device_memory_total_bytes', 'Memory', (d) => d.memory_total_mb)
    deviceMemory('rbee_hive_device_memory_used_bytes', 'Memory in use', (d) =>
      Math.max(0, d.memory_total_mb - d.memory_free_mb),
    )
  }

  /** Counts what an event of the hive's stream tells: spawns, crashes and restarts. */
  event(ev: HiveStreamEvent): void {
    if (ev.type === 'worker_spawned') this.#spawns.inc()
    else if (ev.type === 'worker_exited' && !ev.expected) {
      this.#crashes.inc()
      if (ev.restarting) this.#restarts.inc()
    }
  }

  /** What the peer routes report: bytes sent, and a request refused as busy. */
  get peerHub(): { sent: (bytes: number) => void; busy: () => void } {
    return { sent: (bytes) => this.#peerBytes.inc(bytes), busy: () => this.#peerBusy.inc() }
  }

  /**
   * `downloads`, counted: each download by outcome, the bytes of those that finish, their
   * resumed transfers. What a download did is read from its narration (`download_start` for one
   * that transfers, `download_retry` for a resume).
   */
  downloads(inner: Downloads): Downloads {
    return {
      download: async (ref, job, options) => {
        let transferred = false
        // A job that follows another's transfer of the same file hears that transfer's narration
        // too: the transfer is counted once, by the job that runs it.
        let followed = false
        const narrate: typeof job.narrate = (action, human, data) => {
          if (action === 'download_follow') followed = true
          else if (followed) {
            // counted by the job it follows
          } else if (action === 'download_start') transferred = true
          else if (action === 'download_retry') this.#downloadRetries.inc()
          job.narrate(action, human, data)
        }
        this.#downloading.inc()
        try {
          const entry = await inner.download(ref, { id: job.id, signal: job.signal, narrate }, options)
          this.#downloads.inc({ outcome: followed ? 'followed' : transferred ? 'done' : 'skipped' })
          if (transferred) this.#downloadBytes.inc(entry.size_bytes)
          return entry
        } catch (err) {
          this.#downloads.inc({ outcome: job.signal.aborted ? 'cancelled' : 'failed' })
          throw err
        } finally {
          this.#downloading.dec()
        }
      },
    }
  }

  /** The Prometheus text exposition. */
  text(): Promise<string> {
    return this.registry.metrics()
  }

  get contentType(): string {
    return this.registry.contentType
  }
}
