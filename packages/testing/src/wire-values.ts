// Synthetic wire values for registry and scheduler tests: a worker, its process stats, devices, a
// hive's telemetry and a catalog entry, each with overrides.
import {
  BUILTIN_MODEL_ID,
  type Device,
  type HiveStreamEvent,
  type ModelEntry,
  type ProcessStats,
  RBEE_PROTOCOL,
  type WorkerInfo,
} from '@rbee/contracts'

export const T0 = Date.parse('2026-11-27T10:00:00.000Z')

export function info(id: string, over: Partial<WorkerInfo> = {}): WorkerInfo {
  return {
    id,
    model_id: BUILTIN_MODEL_ID,
    device: 'cpu:0',
    port: 40000,
    status: 'ready',
    implementation: 'llm-worker-rbee',
    version: '0.1.0',
    protocol: RBEE_PROTOCOL,
    host: '127.0.0.1',
    hive_id: 'h1',
    slots_total: 4,
    slots_busy: 0,
    ...over,
  }
}

export function stats(w: WorkerInfo, over: Partial<ProcessStats> = {}): ProcessStats {
  return {
    pid: 1000,
    group: 'llm',
    instance: String(w.port),
    cpu_pct: 12,
    rss_mb: 300,
    io_r_mb_s: 0,
    io_w_mb_s: 0,
    uptime_s: 10,
    gpu_util_pct: 0,
    vram_mb: 0,
    total_vram_mb: 0,
    model: w.model_id,
    worker_id: w.id,
    status: w.status,
    ...over,
  }
}

export function device(freeMb: number, over: Partial<Device> = {}): Device {
  return {
    id: 'cpu:0',
    name: 'cpu',
    type: 'cpu',
    memory_total_mb: 64000,
    memory_free_mb: freeMb,
    backend: 'cpu',
    backends: [],
    ...over,
  }
}

/** A GPU `gpu:<index>` that CUDA runs on (nothing probed: `backend` taken on trust). */
export function gpu(index: number, freeMb: number, over: Partial<Device> = {}): Device {
  return device(freeMb, {
    id: `gpu:${index}`,
    name: `NVIDIA H200 #${index}`,
    type: 'gpu',
    memory_total_mb: 143771,
    backend: 'cuda',
    ...over,
  })
}

export function telemetry(
  hiveId: string,
  workers: WorkerInfo[],
  options: { devices?: Device[]; stats?: ProcessStats[]; at?: number } = {},
): HiveStreamEvent {
  return {
    type: 'telemetry',
    hive_id: hiveId,
    hive_info: {
      id: hiveId,
      hostname: hiveId,
      port: 7835,
      operational_status: 'running',
      health_status: 'healthy',
      version: '0.1.0',
      protocol: RBEE_PROTOCOL,
      devices: options.devices ?? [device(32000)],
    },
    timestamp: new Date(options.at ?? T0).toISOString(),
    workers: options.stats ?? workers.map((w) => stats(w)),
    worker_infos: workers,
  }
}

export function catalogEntry(id: string, memoryMb: number): ModelEntry {
  return {
    id,
    source: 'builtin',
    path: `/models/${id}.gguf`,
    size_bytes: 1000,
    sha256: 'a'.repeat(64),
    architecture: 'llama',
    parameter_count: 1000,
    quantization: 'F32',
    context_length: 2048,
    memory_estimate_mb: memoryMb,
    added_at: new Date(T0).toISOString(),
    last_used_at: null,
    available: true,
    builtin: id === BUILTIN_MODEL_ID,
  }
}
