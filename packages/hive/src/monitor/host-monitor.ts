import { cpus } from 'node:os'
import type { BackendProbe, Device, ProcessStats, WorkerStatus } from '@rbee/contracts'
import { type DeviceLayout, layoutDevices } from './device-layout.js'
import type { GpuSnapshot, NvidiaSmi } from './nvidia-smi.js'
import { ProcessSampler } from './proc-stats.js'
import { readSystemMemory } from './system-memory.js'

/** What the monitor needs to know about a live worker process. */
export interface MonitoredWorker {
  pid: number
  port: number
  workerId: string
  modelId: string
  status: WorkerStatus
}

export interface HostMonitorOptions {
  /** Absent on machines without `nvidia-smi`. */
  nvidiaSmi?: NvidiaSmi | undefined
  /** @default '/proc' */
  procRoot?: string
  /**
   * The latest backend probe (which llama.cpp builds load, the GPUs they see); undefined while it
   * runs or when the hive does not probe. @default none
   */
  backendProbe?: () => BackendProbe | undefined
  /** RAM CPU workers may have at most, and what live ones hold (see `HiveOptions.cpuMemoryMb`). @default none */
  cpuBudget?: { limitMb: number; inUseMb: () => number } | undefined
}

/** Devices and per-worker figures at one moment. */
export interface HostSnapshot {
  devices: Device[]
  workers: ProcessStats[]
}

/** The `ProcessStats.group` of every worker a hive runs (the seed's process group for LLM workers). */
export const WORKER_GROUP = 'llm'

/**
 * Reads what a hive reports about its machine: the CPU with its RAM, each NVIDIA GPU with its
 * memory, the GPUs only llama.cpp's Vulkan or Metal build sees, each with the backends that load
 * there (from the backend probe), and per-worker figures from `/proc` plus GPU memory from
 * `nvidia-smi`.
 */
export class HostMonitor {
  readonly #smi: NvidiaSmi | undefined
  readonly #probe: () => BackendProbe | undefined
  readonly #procRoot: string
  readonly #budget: HostMonitorOptions['cpuBudget']
  readonly #sampler: ProcessSampler
  readonly #cpuName = cpus()[0]?.model.trim() || 'CPU'

  constructor(options: HostMonitorOptions = {}) {
    this.#smi = options.nvidiaSmi
    this.#probe = options.backendProbe ?? (() => undefined)
    this.#procRoot = options.procRoot ?? '/proc'
    this.#budget = options.cpuBudget
    this.#sampler = new ProcessSampler(this.#procRoot)
  }

  /** True when GPU figures come from `nvidia-smi`. */
  get hasNvidiaSmi(): boolean {
    return this.#smi !== undefined
  }

  async #gpus(): Promise<GpuSnapshot> {
    return this.#smi ? this.#smi.query() : { gpus: [], processes: [] }
  }

  async #layout(gpu: GpuSnapshot): Promise<DeviceLayout> {
    const mem = await readSystemMemory(this.#procRoot)
    const b = this.#budget
    const totalMb = b ? Math.min(mem.totalMb, b.limitMb) : mem.totalMb
    const availableMb = b ? Math.min(mem.availableMb, Math.max(0, b.limitMb - b.inUseMb())) : mem.availableMb
    return layoutDevices({
      cpu: { name: this.#cpuName, totalMb, availableMb },
      nvidia: gpu.gpus,
      probe: this.#probe(),
    })
  }

  /** The machine's devices now, with how workers name them per backend and the probe they come from. */
  async layout(): Promise<DeviceLayout> {
    return this.#layout(await this.#gpus())
  }

  /** The machine's devices now. */
  async devices(): Promise<Device[]> {
    return (await this.layout()).devices
  }

  /** Devices and a `ProcessStats` per worker that still exists (one `nvidia-smi` run for both). */
  async snapshot(workers: readonly MonitoredWorker[]): Promise<HostSnapshot> {
    const gpu = await this.#gpus()
    const { devices } = await this.#layout(gpu)
    const byUuid = new Map(gpu.gpus.map((g) => [g.uuid, g]))
    const stats: ProcessStats[] = []
    for (const w of workers) {
      const rates = await this.#sampler.sample(w.pid)
      if (!rates) continue
      const apps = gpu.processes.filter((p) => p.pid === w.pid)
      const gpus = apps.map((a) => byUuid.get(a.gpuUuid)).filter((g) => g !== undefined)
      stats.push({
        pid: w.pid,
        group: WORKER_GROUP,
        instance: String(w.port),
        ...rates,
        // nvidia-smi has no per-process utilisation; a worker is charged its GPU's.
        gpu_util_pct: Math.max(0, ...gpus.map((g) => g.utilizationPct)),
        vram_mb: apps.reduce((s, a) => s + a.usedMemoryMb, 0),
        total_vram_mb: gpus.reduce((s, g) => s + g.memoryTotalMb, 0),
        model: w.modelId,
        worker_id: w.workerId,
        status: w.status,
      })
    }
    this.#sampler.retain(new Set(workers.map((w) => w.pid)))
    return { devices, workers: stats }
  }
}
