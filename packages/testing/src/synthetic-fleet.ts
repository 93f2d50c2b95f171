// Synthetic hive telemetry (a test double for fleets that cannot exist on one machine: 100 hives
// with GPUs): `telemetry` events as the queen relays them, shaped and validated like real ones.
import { type QueenStreamEvent, QueenStreamEventSchema, RBEE_PROTOCOL, RBEE_VERSION } from '@rbee/contracts'

export interface SyntheticFleetOptions {
  hives: number
  workersPerHive: number
  /** Changes the figures (slots, CPU, VRAM) from one tick to the next. */
  tick: number
}

/** One `telemetry` event per hive (`syn-000`…), each with its workers, as of `tick`. */
export function syntheticTelemetry(o: SyntheticFleetOptions): QueenStreamEvent[] {
  const timestamp = new Date().toISOString()
  const events: QueenStreamEvent[] = []
  for (let h = 0; h < o.hives; h++) {
    const hiveId = `syn-${String(h).padStart(3, '0')}`
    const workerInfos = []
    const stats = []
    for (let w = 0; w < o.workersPerHive; w++) {
      const id = `w-${h}-${w}`
      const port = 20_000 + h * 100 + w
      const busy = (o.tick + h + w) % 5
      workerInfos.push({
        id,
        model_id: `model-${w % 3}`,
        device: `cuda:${w % 2}`,
        port,
        status: busy > 0 ? ('busy' as const) : ('ready' as const),
        implementation: 'llm-worker-rbee',
        version: RBEE_VERSION,
        protocol: RBEE_PROTOCOL,
        host: `10.0.${h >> 8}.${h & 255}`,
        hive_id: hiveId,
        slots_total: 4,
        slots_busy: Math.min(4, busy),
      })
      stats.push({
        pid: 1000 + h * 100 + w,
        group: 'llm',
        instance: String(port),
        cpu_pct: (o.tick * 7 + w * 13) % 100,
        rss_mb: 800 + w,
        io_r_mb_s: 0,
        io_w_mb_s: 0,
        uptime_s: 60 + o.tick,
        gpu_util_pct: (o.tick * 11 + w * 17) % 100,
        vram_mb: 2048 + ((o.tick * 64) % 1024),
        total_vram_mb: 24_564,
        model: `model-${w % 3}`,
        worker_id: id,
        status: busy > 0 ? ('busy' as const) : ('ready' as const),
      })
    }
    const gpu = (i: number) => ({
      id: `gpu:${i}`,
      name: 'NVIDIA GeForce RTX 4090',
      type: 'gpu' as const,
      memory_total_mb: 24_564,
      memory_free_mb: 24_564 - 4096 - ((o.tick * 128 + h) % 8192),
      backend: 'cuda' as const,
      backends: [],
    })
    events.push(
      QueenStreamEventSchema.parse({
        type: 'telemetry',
        hive_id: hiveId,
        timestamp,
        hive_info: {
          id: hiveId,
          hostname: `${hiveId}.lan`,
          port: 7835,
          operational_status: 'running',
          health_status: 'healthy',
          version: RBEE_VERSION,
          protocol: RBEE_PROTOCOL,
          devices: [
            gpu(0),
            gpu(1),
            {
              id: 'cpu:0',
              name: 'AMD EPYC 9354',
              type: 'cpu',
              memory_total_mb: 257_000,
              memory_free_mb: 200_000,
              backend: 'cpu',
              backends: [],
            },
          ],
        },
        workers: stats,
        worker_infos: workerInfos,
      }),
    )
  }
  return events
}
