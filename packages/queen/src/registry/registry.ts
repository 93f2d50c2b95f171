import { type Logger, silentLogger } from '@rbee/common'
import {
  type Device,
  type HiveRecord,
  type HiveStreamEvent,
  type ModelEntry,
  type PeerVersion,
  type ProcessStats,
  protocolMismatch,
  type WorkerHeartbeat,
  type WorkerInfo,
  type WorkerStatus,
  workerUrl,
} from '@rbee/contracts'
import { QUEEN_DEFAULTS } from '../queen-defaults.js'
import { BucketIndex } from './bucket-index.js'
import { IndexedHeap } from './indexed-heap.js'
import { WorkerEntry } from './worker-entry.js'

export type HiveSource = HiveRecord['source']

/** The queen's record of one hive. */
export interface HiveEntry {
  readonly id: string
  url: string
  source: HiveSource
  online: boolean
  /** Online but quiet (see `HiveLiveness`): new requests prefer other hives' workers. */
  suspect: boolean
  lastEventMs: number | null
  devices: Device[]
  error: string | null
  /** The hive's model catalog, once fetched. */
  catalog: ModelEntry[] | null
  catalogAtMs: number
  workers: Set<WorkerEntry>
  /** Release and protocol the hive last reported (registration or telemetry). */
  version: PeerVersion | null
  /** Why the hive cannot be used (another protocol); its events are ignored while set. */
  incompatible: string | null
}

/** What changed, for the scheduler (dispatch queued requests) and the fleet stream. */
export type RegistryEvent =
  | { type: 'model'; model: string }
  | { type: 'hive_online'; hiveId: string; reason: string }
  | { type: 'hive_offline'; hiveId: string; reason: string }
  /** A hive became suspect (`suspect`), or was heard again (`!suspect`); it stays online either way. */
  | { type: 'hive_suspect'; hiveId: string; suspect: boolean; reason: string }
  | { type: 'worker_removed'; worker: WorkerEntry; reason: string }
  /** A hive's telemetry brought its devices' figures (free memory). */
  | { type: 'hive_devices'; hiveId: string }

export interface RegistryOptions {
  /** Interval of hive telemetry. @default 1000 */
  hiveIntervalMs?: number
  /** Interval of worker heartbeats. @default 10_000 */
  workerIntervalMs?: number
  /** Intervals without news before an unvouched worker is dropped. @default 3 */
  missedIntervals?: number
  /**
   * A hive with no event for this long is offline (its stream's own liveness usually says so
   * first). @default 3 hive intervals
   */
  hiveOfflineMs?: number
  logger?: Logger
  now?: () => number
}

const SOURCE_RANK: Record<HiveSource, number> = { registration: 0, config: 1, local: 2 }
/**
 * A worker whose slots are all taken is still sent the requests its recent pace would start
 * within this long (they wait in its own queue, far inside its default 2 s slot wait).
 */
const EARLY_ADMIT_MS = 250
/** Weight of the newest gap in the smoothed time between finished requests. */
const GAP_WEIGHT = 0.2
const ROUTABLE_STATUS = new Set<WorkerStatus>(['ready', 'busy'])

/**
 * A worker with a free slot first, and among those one whose hive is not suspect; then most free
 * slots; ties: least recently used; then id for a stable order.
 */
function routesBefore(a: WorkerEntry, b: WorkerEntry): boolean {
  const fa = a.freeSlots
  const fb = b.freeSlots
  if (fa > 0 !== fb > 0) return fa > 0
  if (a.onSuspectHive !== b.onSuspectHive) return b.onSuspectHive
  if (fa !== fb) return fa > fb
  if (a.useSeq !== b.useSeq) return a.useSeq < b.useSeq
  return a.id < b.id
}

function addTo<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  let set = map.get(key)
  if (!set) {
    set = new Set()
    map.set(key, set)
  }
  set.add(value)
}

function removeFrom<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key)
  if (!set) return
  set.delete(value)
  if (set.size === 0) map.delete(key)
}

/**
 * Every hive and worker the queen knows, merged from hive streams and worker heartbeats, with
 * indexes kept current on each event so routing decisions and the fleet queries never scan:
 * a heap of routable workers per model (most free slots, then least recently used), sets by
 * model, status, hive and idleness, and bucket indexes of free memory for hives and VRAM
 * headroom for workers. Time only advances through `sweep()` (driven by the queen's timer).
 */
export class Registry {
  readonly #hives = new Map<string, HiveEntry>()
  readonly #workers = new Map<string, WorkerEntry>()
  readonly #byModel = new Map<string, Set<WorkerEntry>>()
  readonly #byStatus = new Map<WorkerStatus, Set<WorkerEntry>>()
  readonly #routable = new Map<string, IndexedHeap<WorkerEntry>>()
  readonly #idle = new Set<WorkerEntry>()
  readonly #vram = new BucketIndex()
  readonly #hiveFree = new BucketIndex()
  readonly #catalogIndex = new Map<string, Set<string>>()
  readonly #online = new Set<string>()
  readonly #listeners = new Set<(ev: RegistryEvent) => void>()
  /** Per worker, who wants to know the moment it is lost (requests running on it). */
  readonly #loss = new Map<WorkerEntry, Set<(reason: string) => void>>()
  readonly #hiveTimeoutMs: number
  readonly #workerTimeoutMs: number
  readonly #log: Logger
  readonly #now: () => number
  #useSeq = 0

  constructor(options: RegistryOptions = {}) {
    const missed = options.missedIntervals ?? 3
    this.#hiveTimeoutMs =
      options.hiveOfflineMs ?? (options.hiveIntervalMs ?? QUEEN_DEFAULTS.hiveIntervalMs) * missed
    this.#workerTimeoutMs = (options.workerIntervalMs ?? QUEEN_DEFAULTS.workerHeartbeatIntervalMs) * missed
    this.#log = options.logger ?? silentLogger()
    this.#now = options.now ?? Date.now
  }

  /** Subscribes to changes; returns the unsubscribe function. */
  on(listener: (ev: RegistryEvent) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  #emit(ev: RegistryEvent): void {
    for (const l of this.#listeners) l(ev)
  }

  /**
   * Calls `fn` once if `worker` is lost: removed, or its hive goes offline. Returns the
   * unsubscribe function. Indexed by worker, so a request pays nothing for the others in flight.
   */
  onLoss(worker: WorkerEntry, fn: (reason: string) => void): () => void {
    let set = this.#loss.get(worker)
    if (!set) {
      set = new Set()
      this.#loss.set(worker, set)
    }
    set.add(fn)
    return () => {
      const s = this.#loss.get(worker)
      if (!s) return
      s.delete(fn)
      if (s.size === 0) this.#loss.delete(worker)
    }
  }

  #lost(w: WorkerEntry, reason: string): void {
    const set = this.#loss.get(w)
    if (!set) return
    this.#loss.delete(w)
    for (const fn of set) fn(reason)
  }

  // ---- hives ----

  /** Adds a hive or updates its URL; a source never downgrades (local > config > registration). */
  upsertHive(id: string, url: string, source: HiveSource): HiveEntry {
    const existing = this.#hives.get(id)
    if (existing) {
      existing.url = url
      if (SOURCE_RANK[source] > SOURCE_RANK[existing.source]) existing.source = source
      return existing
    }
    const hive: HiveEntry = {
      id,
      url,
      source,
      online: false,
      suspect: false,
      lastEventMs: null,
      devices: [],
      error: null,
      catalog: null,
      catalogAtMs: 0,
      workers: new Set(),
      version: null,
      incompatible: null,
    }
    this.#hives.set(id, hive)
    // Workers that heartbeated before their hive was known now belong to it (a rare event, so
    // the scan is fine).
    for (const w of this.#workers.values()) {
      if (w.hiveId === id) {
        hive.workers.add(w)
        this.#refresh(w)
      }
    }
    this.#log.info({ hive_id: id, url, source }, 'hive added')
    return hive
  }

  hive(id: string): HiveEntry | undefined {
    return this.#hives.get(id)
  }

  hives(): IterableIterator<HiveEntry> {
    return this.#hives.values()
  }

  get hiveCount(): number {
    return this.#hives.size
  }

  get onlineHiveCount(): number {
    return this.#online.size
  }

  /** Forgets a hive and its workers. */
  removeHive(id: string): void {
    const hive = this.#hives.get(id)
    if (!hive) return
    this.#setOffline(hive, 'removed')
    for (const w of [...hive.workers]) this.#remove(w, 'hive removed')
    this.setCatalog(id, [])
    this.#hiveFree.delete(id)
    this.#hives.delete(id)
  }

  /**
   * Records the release and protocol a hive reports. A hive of another protocol is taken offline
   * and kept so (its events ignored, `error` naming both releases) until it reports a compatible
   * one; returns why it cannot be used, or undefined.
   */
  hiveVersion(id: string, version: PeerVersion): string | undefined {
    const hive = this.#hives.get(id)
    if (!hive) return undefined
    const changed = hive.version?.version !== version.version || hive.version.protocol !== version.protocol
    hive.version = { version: version.version, protocol: version.protocol }
    const mismatch = protocolMismatch(`hive ${id}`, version, 'this queen')
    if (changed) {
      this.#log[mismatch ? 'error' : 'info'](
        { hive_id: id, version: version.version, protocol: version.protocol },
        mismatch ? 'hive of an incompatible protocol refused' : 'hive version',
      )
    }
    hive.incompatible = mismatch ?? null
    if (mismatch) {
      hive.error = mismatch
      this.#setOffline(hive, mismatch)
    }
    return mismatch
  }

  /** Applies one event from a hive's stream. Events of unknown hives are ignored. */
  hiveEvent(ev: HiveStreamEvent): void {
    const hive = this.#hives.get(ev.hive_id)
    if (!hive) return
    if (ev.type === 'telemetry') this.hiveVersion(hive.id, ev.hive_info)
    // A hive of another protocol is never used, whatever it says.
    if (hive.incompatible) return
    const now = this.#now()
    hive.lastEventMs = now
    hive.error = null
    this.#setOnline(hive)
    this.hiveHeard(hive.id)
    switch (ev.type) {
      case 'telemetry': {
        hive.devices = ev.hive_info.devices
        this.#hiveFree.set(hive.id, maxFree(ev.hive_info.devices))
        const stats = new Map<string, ProcessStats>()
        for (const s of ev.workers) stats.set(s.worker_id, s)
        const listed = new Set<string>()
        for (const info of ev.worker_infos) {
          if (info.hive_id !== hive.id) continue
          listed.add(info.id)
          this.#upsert(info, now, true, stats.get(info.id))
        }
        // Telemetry lists every worker of the hive: one it vouched for before and no longer
        // lists has gone (its exit event may have been lost with a dropped stream).
        for (const w of [...hive.workers]) {
          if (w.vouched && !listed.has(w.id)) this.#remove(w, 'no longer listed by its hive')
        }
        this.#emit({ type: 'hive_devices', hiveId: hive.id })
        break
      }
      case 'worker_spawned':
      case 'worker_ready': {
        const w = this.#upsert(ev.worker, now, true, undefined)
        w.pid = ev.pid
        break
      }
      case 'worker_exited': {
        const w = this.#workers.get(ev.worker_id)
        if (w && w.hiveId === hive.id) this.#remove(w, `exited: ${ev.reason}`)
        break
      }
      case 'worker_status': {
        if (ev.worker.hive_id !== hive.id) break
        const w = this.#upsert(ev.worker, now, true, undefined)
        this.#log.info(
          { worker_id: w.id, hive_id: hive.id, status: ev.worker.status, reason: ev.reason },
          'worker status from its hive',
        )
        // Requests running on a worker that stopped answering move on (or end) now.
        if (ev.worker.status === 'unresponsive') this.#lost(w, `its hive reports it ${ev.reason}`)
        break
      }
    }
  }

  /**
   * The hive's stream went quiet while its host still answers: it stays online (requests and
   * spawns already on it carry on) but new requests prefer other hives' workers.
   */
  hiveSuspect(id: string, reason: string): void {
    const hive = this.#hives.get(id)
    if (!hive?.online || hive.suspect) return
    this.#setSuspect(hive, true, reason)
  }

  /** Something arrived from the hive: it is no longer suspect. */
  hiveHeard(id: string): void {
    const hive = this.#hives.get(id)
    if (hive?.suspect) this.#setSuspect(hive, false, 'heard again')
  }

  /** Sets a hive's suspect flag and its workers' routing order; `announce` logs and emits it. */
  #setSuspect(hive: HiveEntry, suspect: boolean, reason: string, announce = true): void {
    hive.suspect = suspect
    for (const w of hive.workers) {
      w.onSuspectHive = suspect
      this.#routable.get(w.model)?.update(w)
    }
    if (!announce) return
    this.#log[suspect ? 'warn' : 'info'](
      { hive_id: hive.id, reason },
      suspect ? 'hive suspect' : 'hive steady',
    )
    this.#emit({ type: 'hive_suspect', hiveId: hive.id, suspect, reason })
  }

  /** The hive's stream dropped or failed: offline at once, none of its workers routable. */
  hiveDisconnected(id: string, reason: string): void {
    const hive = this.#hives.get(id)
    if (!hive) return
    hive.error = reason
    this.#setOffline(hive, reason)
  }

  /** Records a problem with a hive (wrong id, bad events) without changing its state. */
  hiveError(id: string, error: string): void {
    const hive = this.#hives.get(id)
    if (hive) hive.error = error
  }

  #setOnline(hive: HiveEntry): void {
    if (hive.online) return
    hive.online = true
    this.#online.add(hive.id)
    this.#log.info({ hive_id: hive.id }, 'hive online')
    for (const w of hive.workers) this.#refresh(w)
    this.#emit({ type: 'hive_online', hiveId: hive.id, reason: 'stream up' })
  }

  #setOffline(hive: HiveEntry, reason: string): void {
    if (!hive.online) return
    // Offline says it all: no "steady" on the way.
    if (hive.suspect) this.#setSuspect(hive, false, 'offline', false)
    hive.online = false
    this.#online.delete(hive.id)
    this.#log.warn({ hive_id: hive.id, reason }, 'hive offline')
    for (const w of hive.workers) this.#refresh(w)
    this.#emit({ type: 'hive_offline', hiveId: hive.id, reason })
    for (const w of hive.workers) this.#lost(w, reason)
  }

  /** Replaces a hive's catalog (from its `model_list`). */
  setCatalog(hiveId: string, entries: ModelEntry[]): void {
    const hive = this.#hives.get(hiveId)
    if (!hive) return
    for (const m of hive.catalog ?? []) removeFrom(this.#catalogIndex, m.id, hiveId)
    hive.catalog = entries
    hive.catalogAtMs = this.#now()
    for (const m of entries) if (m.available) addTo(this.#catalogIndex, m.id, hiveId)
  }

  /** Hives whose catalog has `model` available. */
  hivesWithModel(model: string): HiveEntry[] {
    const ids = this.#catalogIndex.get(model)
    return ids ? [...ids].map((id) => this.#hives.get(id)!) : []
  }

  /** Every model id in any hive's catalog. */
  catalogModels(): IterableIterator<string> {
    return this.#catalogIndex.keys()
  }

  /** Online hives with a device that has at least `mb` MB free. */
  hivesWithFreeMemory(mb: number): HiveEntry[] {
    return this.#hiveFree
      .atLeast(mb)
      .map((id) => this.#hives.get(id)!)
      .filter((h) => h.online)
  }

  // ---- workers ----

  /** Applies a worker's own heartbeat. A `stopped` worker is dropped. */
  workerHeartbeat(hb: WorkerHeartbeat): WorkerEntry | undefined {
    if (hb.worker.status === 'stopped') {
      const w = this.#workers.get(hb.worker.id)
      if (w) this.#remove(w, 'stopped')
      return undefined
    }
    const now = this.#now()
    const w = this.#upsert(hb.worker, now, false, undefined)
    w.lastHeartbeatMs = now
    if (hb.liveness) w.liveness = hb.liveness
    return w
  }

  /** Adds what a worker says about itself (e.g. its `/v1/info` after a spawn). */
  workerInfo(info: WorkerInfo): WorkerEntry {
    return this.#upsert(info, this.#now(), false, undefined)
  }

  #upsert(info: WorkerInfo, now: number, fromHive: boolean, stats: ProcessStats | undefined): WorkerEntry {
    let w = this.#workers.get(info.id)
    if (!w) {
      w = new WorkerEntry(info, now)
      this.#workers.set(w.id, w)
      addTo(this.#byModel, w.model, w)
      addTo(this.#byStatus, info.status, w)
      if (info.hive_id) {
        const hive = this.#hives.get(info.hive_id)
        hive?.workers.add(w)
        w.onSuspectHive = hive?.suspect === true
      }
      this.#log.debug({ worker_id: w.id, model: w.model, hive_id: w.hiveId }, 'worker added')
    } else {
      const old = w.info
      if (old.model_id !== info.model_id) {
        this.#routable.get(old.model_id)?.delete(w)
        removeFrom(this.#byModel, old.model_id, w)
        addTo(this.#byModel, info.model_id, w)
        w.routable = false
      }
      if (old.status !== info.status) {
        removeFrom(this.#byStatus, old.status, w)
        addTo(this.#byStatus, info.status, w)
      }
      if (old.hive_id !== info.hive_id && old.hive_id) this.#hives.get(old.hive_id)?.workers.delete(w)
      // Also when unchanged: the hive may have become known after the worker (a heartbeat
      // that arrived before the hive's registration).
      if (info.hive_id) {
        const hive = this.#hives.get(info.hive_id)
        hive?.workers.add(w)
        w.onSuspectHive = hive?.suspect === true
      }
      w.info = info
      if (old.host !== info.host || old.port !== info.port) w.url = workerUrl(info)
    }
    w.lastSeenMs = now
    if (fromHive) w.vouched = true
    if (stats && stats.instance === String(info.port)) {
      w.stats = stats
      w.pid = stats.pid
      this.#vram.set(w.id, w.vramHeadroomMb)
    } else if (stats) {
      this.#log.warn(
        { worker_id: w.id, port: info.port, instance: stats.instance },
        'hive process stats name another port than the worker; stats ignored',
      )
    }
    this.#refresh(w)
    return w
  }

  #isRoutable(w: WorkerEntry, now: number): boolean {
    if (!ROUTABLE_STATUS.has(w.info.status) || w.stopping || now < w.quarantinedUntilMs) return false
    const hive = w.hiveId ? this.#hives.get(w.hiveId) : undefined
    return hive ? hive.online : true
  }

  /** Recomputes a worker's routability and keeps the heap and idle set in line. */
  #refresh(w: WorkerEntry): void {
    const routable = this.#isRoutable(w, this.#now())
    const idle = routable && w.inflight === 0 && w.info.slots_busy === 0
    if (idle) this.#idle.add(w)
    else this.#idle.delete(w)
    if (routable === w.routable) {
      if (routable) this.#routable.get(w.model)?.update(w)
      return
    }
    w.routable = routable
    if (routable) {
      let heap = this.#routable.get(w.model)
      if (!heap) {
        heap = new IndexedHeap(routesBefore)
        this.#routable.set(w.model, heap)
      }
      heap.push(w)
    } else {
      const heap = this.#routable.get(w.model)
      heap?.delete(w)
      if (heap?.size === 0) this.#routable.delete(w.model)
    }
    this.#emit({ type: 'model', model: w.model })
  }

  #remove(w: WorkerEntry, reason: string): void {
    if (this.#workers.get(w.id) !== w) return
    this.#workers.delete(w.id)
    removeFrom(this.#byModel, w.model, w)
    removeFrom(this.#byStatus, w.info.status, w)
    if (w.hiveId) this.#hives.get(w.hiveId)?.workers.delete(w)
    const heap = this.#routable.get(w.model)
    heap?.delete(w)
    if (heap?.size === 0) this.#routable.delete(w.model)
    this.#idle.delete(w)
    this.#vram.delete(w.id)
    w.routable = false
    this.#log.info({ worker_id: w.id, model: w.model, hive_id: w.hiveId, reason }, 'worker removed')
    this.#emit({ type: 'worker_removed', worker: w, reason })
    this.#lost(w, reason)
    this.#emit({ type: 'model', model: w.model })
  }

  worker(id: string): WorkerEntry | undefined {
    return this.#workers.get(id)
  }

  /** All workers. */
  workers(): IterableIterator<WorkerEntry> {
    return this.#workers.values()
  }

  get workerCount(): number {
    return this.#workers.size
  }

  /** Routable workers with nothing in flight. */
  idleWorkers(): ReadonlySet<WorkerEntry> {
    return this.#idle
  }

  /** Every worker serving `model`, routable or not. */
  workersForModel(model: string): ReadonlySet<WorkerEntry> {
    return this.#byModel.get(model) ?? EMPTY
  }

  workersByStatus(status: WorkerStatus): ReadonlySet<WorkerEntry> {
    return this.#byStatus.get(status) ?? EMPTY
  }

  workersOfHive(hiveId: string): ReadonlySet<WorkerEntry> {
    return this.#hives.get(hiveId)?.workers ?? EMPTY
  }

  /** GPU workers with at least `mb` MB of VRAM headroom on their device. */
  workersWithCapacity(mb: number): WorkerEntry[] {
    return this.#vram.atLeast(mb).map((id) => this.#workers.get(id)!)
  }

  /** Number of routable workers for `model`. */
  routableCount(model: string): number {
    return this.#routable.get(model)?.size ?? 0
  }

  /**
   * The routing decision: the routable worker for `model` with the most free slots (ties: the
   * one used longest ago), or undefined when every slot is taken. With `hiveId`, only that
   * hive's workers count.
   */
  pick(model: string, hiveId?: string): WorkerEntry | undefined {
    if (hiveId === undefined) {
      const best = this.#routable.get(model)?.peek()
      return best && best.freeSlots + this.earlyAdmits(best) > 0 ? best : undefined
    }
    let best: WorkerEntry | undefined
    for (const w of this.workersOfHive(hiveId)) {
      if (w.routable && w.model === model && (!best || routesBefore(w, best))) best = w
    }
    return best && best.freeSlots + this.earlyAdmits(best) > 0 ? best : undefined
  }

  /**
   * How many requests beyond its slots `w` may be sent, to wait in its own queue: as many as its
   * recent pace of finished requests starts within `EARLY_ADMIT_MS`, at most a quarter of its
   * slots. A slot that frees on a busy worker is then refilled at once, not after a round trip
   * through the queen and the worker's busy event loop (measured: at 64 clients on 16 slots the
   * tiny model served 35 % fewer requests through the queen than straight). None for a worker
   * whose requests finish slowly, or that has not finished any for a while.
   */
  earlyAdmits(w: WorkerEntry): number {
    if (w.releaseGapMs === 0) return 0
    const gap = Math.max(w.releaseGapMs, this.#now() - w.lastReleaseMs)
    return Math.min(Math.ceil(w.info.slots_total / 4), Math.floor(EARLY_ADMIT_MS / gap))
  }

  /** Counts a request routed to `w`. */
  acquire(w: WorkerEntry): void {
    w.inflight++
    w.useSeq = ++this.#useSeq
    w.lastUsedMs = this.#now()
    this.#refresh(w)
  }

  /** A request routed to `w` finished; its slot is free again. */
  release(w: WorkerEntry): void {
    const now = this.#now()
    w.inflight = Math.max(0, w.inflight - 1)
    w.lastUsedMs = now
    if (w.lastReleaseMs > 0) {
      const gap = Math.max(1, now - w.lastReleaseMs)
      w.releaseGapMs = w.releaseGapMs === 0 ? gap : w.releaseGapMs + GAP_WEIGHT * (gap - w.releaseGapMs)
    }
    w.lastReleaseMs = now
    if (this.#workers.get(w.id) !== w) return
    this.#refresh(w)
    this.#emit({ type: 'model', model: w.model })
  }

  /** Takes a worker out of routing for `ms` (it just refused or dropped a connection). */
  quarantine(w: WorkerEntry, ms: number): void {
    w.quarantinedUntilMs = this.#now() + ms
    this.#refresh(w)
  }

  /**
   * Sets how long a worker may stay idle before the queen stops it (an Ollama request's
   * `keep_alive`): `Infinity` keeps it, 0 stops it once idle, `null` goes back to its model's TTL.
   */
  setKeepAlive(w: WorkerEntry, ms: number | null): void {
    w.keepAliveMs = ms
  }

  /** Marks a worker as being stopped by the queen (not routable), or undoes it. */
  setStopping(w: WorkerEntry, stopping: boolean): void {
    w.stopping = stopping
    this.#refresh(w)
  }

  /**
   * Applies time: hives silent for the missed intervals go offline, workers nobody vouches for
   * and that stopped heartbeating are dropped, expired quarantines end.
   */
  sweep(): void {
    const now = this.#now()
    for (const hive of this.#online) {
      const h = this.#hives.get(hive)!
      if (h.lastEventMs !== null && now - h.lastEventMs > this.#hiveTimeoutMs) {
        this.#setOffline(h, `no event for ${now - h.lastEventMs} ms`)
      }
    }
    for (const w of this.#workers.values()) {
      const hive = w.hiveId ? this.#hives.get(w.hiveId) : undefined
      const vouched = w.vouched && hive?.online === true
      if (!vouched && now - w.lastSeenMs > this.#workerTimeoutMs) {
        this.#remove(w, `no heartbeat for ${now - w.lastSeenMs} ms`)
      } else if (w.quarantinedUntilMs !== 0 && now >= w.quarantinedUntilMs) {
        w.quarantinedUntilMs = 0
        this.#refresh(w)
      }
    }
  }

  /** Counts for the queen's summary event and metrics. */
  counts(): { hivesOnline: number; hivesTotal: number; workersTotal: number; ready: number; busy: number } {
    return {
      hivesOnline: this.#online.size,
      hivesTotal: this.#hives.size,
      workersTotal: this.#workers.size,
      ready: this.workersByStatus('ready').size,
      busy: this.workersByStatus('busy').size,
    }
  }

  toHiveRecord(h: HiveEntry): HiveRecord {
    return {
      id: h.id,
      url: h.url,
      online: h.online,
      source: h.source,
      suspect: h.suspect,
      last_seen: h.lastEventMs === null ? null : new Date(h.lastEventMs).toISOString(),
      devices: h.devices,
      workers: h.workers.size,
      error: h.incompatible ?? h.error,
      version: h.version?.version ?? null,
      protocol: h.version?.protocol ?? null,
      compatible: h.incompatible === null,
    }
  }
}

const EMPTY: ReadonlySet<WorkerEntry> = new Set()

function maxFree(devices: readonly Device[]): number {
  let best = 0
  for (const d of devices) if (d.memory_free_mb > best) best = d.memory_free_mb
  return best
}
