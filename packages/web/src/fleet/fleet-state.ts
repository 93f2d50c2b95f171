// The fleet as the page draws it, rebuilt from the queen's stream: a `fleet` snapshot first, then
// each event changes only the hive it concerns (a new object for that hive, the others shared,
// so only its card redraws).
import type { Device, FleetStatus, HiveRecord, QueenStreamEvent, WorkerRecord } from '@rbee/contracts'

export interface HiveView {
  id: string
  online: boolean
  suspect: boolean
  error: string | null
  devices: Device[]
  version: string | null
  /** Worker id → worker, in spawn order. */
  workers: ReadonlyMap<string, WorkerRecord>
  /** The last thing that happened to the hive or one of its workers, in words. */
  note: string | null
}

export interface FleetView {
  hives: ReadonlyMap<string, HiveView>
  summary: {
    hives_online: number
    hives_total: number
    workers_total: number
    workers_ready: number
    workers_busy: number
  }
}

export const EMPTY_FLEET: FleetView = {
  hives: new Map(),
  summary: { hives_online: 0, hives_total: 0, workers_total: 0, workers_ready: 0, workers_busy: 0 },
}

function hiveFromRecord(h: HiveRecord, workers: WorkerRecord[]): HiveView {
  return {
    id: h.id,
    online: h.online,
    suspect: h.suspect,
    error: h.error,
    devices: h.devices,
    version: h.version,
    workers: new Map(workers.map((w) => [w.id, w])),
    note: null,
  }
}

function emptyHive(id: string): HiveView {
  return {
    id,
    online: true,
    suspect: false,
    error: null,
    devices: [],
    version: null,
    workers: new Map(),
    note: null,
  }
}

function withHive(fleet: FleetView, hive: HiveView): FleetView {
  const hives = new Map(fleet.hives)
  hives.set(hive.id, hive)
  return { ...fleet, hives }
}

/** The fleet after one stream event (the same object when the event changes nothing drawn). */
export function applyEvent(fleet: FleetView, ev: QueenStreamEvent): FleetView {
  switch (ev.type) {
    case 'fleet':
      return fromStatus(ev.status, fleet.summary)
    case 'queen': {
      const { type: _t, timestamp: _ts, ...summary } = ev
      return { ...fleet, summary }
    }
    case 'hive_online':
    case 'hive_offline':
    case 'hive_suspect':
    case 'hive_steady': {
      const h = fleet.hives.get(ev.hive_id) ?? emptyHive(ev.hive_id)
      const online = ev.type !== 'hive_offline'
      return withHive(fleet, {
        ...h,
        online,
        suspect: ev.type === 'hive_suspect',
        // An offline hive's workers are out of routing: the queen drops them, and so does the page.
        workers: online ? h.workers : new Map(),
        // A hive heard from again is no longer the "cannot reach" of an old snapshot.
        error: online ? null : h.error,
        note: `${ev.type.replace('hive_', '')}: ${ev.reason}`,
      })
    }
    case 'telemetry': {
      const h = fleet.hives.get(ev.hive_id) ?? emptyHive(ev.hive_id)
      const stats = new Map(ev.workers.map((s) => [s.worker_id, s]))
      const workers = new Map<string, WorkerRecord>()
      for (const info of ev.worker_infos) {
        const before = h.workers.get(info.id)
        const s = stats.get(info.id)
        workers.set(info.id, {
          ...info,
          url: before?.url ?? '',
          pid: s?.pid ?? before?.pid ?? null,
          cpu_pct: s?.cpu_pct ?? 0,
          rss_mb: s?.rss_mb ?? 0,
          vram_mb: s?.vram_mb ?? 0,
          gpu_util_pct: s?.gpu_util_pct ?? 0,
          last_seen: ev.timestamp,
          routable: info.status === 'ready' || info.status === 'busy',
          liveness: before?.liveness ?? null,
        })
      }
      return withHive(fleet, {
        ...h,
        online: true,
        error: null,
        devices: ev.hive_info.devices,
        version: ev.hive_info.version,
        workers,
      })
    }
    case 'worker_spawned':
    case 'worker_ready':
    case 'worker_status': {
      const h = fleet.hives.get(ev.hive_id) ?? emptyHive(ev.hive_id)
      const before = h.workers.get(ev.worker.id)
      const workers = new Map(h.workers)
      workers.set(ev.worker.id, {
        url: '',
        pid: 'pid' in ev ? ev.pid : null,
        cpu_pct: 0,
        rss_mb: 0,
        vram_mb: 0,
        gpu_util_pct: 0,
        liveness: null,
        ...before,
        ...ev.worker,
        last_seen: ev.timestamp,
        routable: ev.worker.status === 'ready' || ev.worker.status === 'busy',
      })
      const what =
        ev.type === 'worker_status' ? `${ev.worker.status} (${ev.reason})` : ev.type.replace('worker_', '')
      return withHive(fleet, { ...h, workers, note: `worker ${ev.worker.id} ${what}` })
    }
    case 'worker_exited': {
      const h = fleet.hives.get(ev.hive_id)
      if (!h) return fleet
      const workers = new Map(h.workers)
      workers.delete(ev.worker_id)
      const how = ev.signal ? `signal ${ev.signal}` : `code ${ev.exit_code}`
      const note = `worker ${ev.worker_id} exited (${how})${ev.restarting ? ', restarting' : ''}: ${ev.reason}`
      return withHive(fleet, { ...h, workers, note })
    }
    case 'worker_update': {
      const w = ev.worker
      if (!w.hive_id) return fleet
      const h = fleet.hives.get(w.hive_id)
      // A late heartbeat neither brings back a worker whose hive is offline nor one that exited.
      if (!h?.online || !h.workers.has(w.id)) return fleet
      const workers = new Map(h.workers)
      workers.set(w.id, w)
      return withHive(fleet, { ...h, workers })
    }
  }
}

/** The fleet as a `fleet` snapshot (or the `status` job) describes it. */
export function fromStatus(status: FleetStatus, summary: FleetView['summary']): FleetView {
  const byHive = new Map<string, WorkerRecord[]>()
  for (const w of status.workers) {
    const list = byHive.get(w.hive_id ?? '') ?? []
    list.push(w)
    byHive.set(w.hive_id ?? '', list)
  }
  const hives = new Map<string, HiveView>()
  for (const h of status.hives) hives.set(h.id, hiveFromRecord(h, byHive.get(h.id) ?? []))
  return { hives, summary }
}

/** The summary line's figures, counted from the hives the page draws. */
export function fleetCounts(hives: readonly HiveView[]): FleetView['summary'] {
  let online = 0
  let total = 0
  let ready = 0
  let busy = 0
  for (const h of hives) {
    if (h.online) online++
    for (const w of h.workers.values()) {
      total++
      if (w.status === 'ready') ready++
      else if (w.status === 'busy') busy++
    }
  }
  return {
    hives_online: online,
    hives_total: hives.length,
    workers_total: total,
    workers_ready: ready,
    workers_busy: busy,
  }
}
