import { formatBytes, RbeeError } from '@rbee/common'
import { type Backend, type Device, usableBackend } from '@rbee/contracts'
import type { HiveEntry } from '../registry/registry.js'
import { type DeviceUsage, deviceUsage, NO_USAGE } from './device-usage.js'

/** A device a new worker goes to, and the MB of the model's estimate it takes. */
export interface DeviceShare {
  device: Device
  mb: number
}

/** Where a new worker goes, and why there. */
export interface Placement {
  hive: HiveEntry
  /** One device, or the GPUs of one hive the model is split across (llama.cpp's layer split). */
  shares: DeviceShare[]
  backend: Backend
  needMb: number
  /** The `worker_spawn` device: one index, or the indexes of a split. */
  selection: number | number[]
  /** Why these devices and not the others, in words (spawn narration, queen log). */
  reason: string
}

export interface PlacementOptions {
  /** MB promised per `hive/device` (see `deviceKey`) to spawns that have not reported yet. */
  reserved?: ReadonlyMap<string, number>
  /** Why the model must not go to a device for now (its spawns failed there), or undefined. */
  blocked?: (hiveId: string, deviceId: string) => string | undefined
}

/** Device notes a reason lists at most; a big fleet's reason stays one readable line. */
const MAX_NOTES = 8

/** The key of a hive's device in `reserved` and the spawn backoff. */
export const deviceKey = (hiveId: string, deviceId: string): string => `${hiveId}/${deviceId}`

/** Megabytes (as hives report them) in human units: `800 MiB`, `1.46 GiB`, `139 GiB`. */
export const formatMb = (n: number): string => formatBytes(Math.max(0, n) * 1024 * 1024)
const mb = formatMb

/** A device assessed for the model: it fits, it is too small, or it is skipped. */
interface Assessed {
  hive: HiveEntry
  device: Device
  label: string
  needMb: number
  /** Free memory minus what spawns in flight were promised. */
  availMb: number
  usage: DeviceUsage
  /** Set when the model may go here (alone or in a split). */
  backend: Backend | undefined
  /** Set when it cannot take the model alone: the note for the reason. */
  note: string | undefined
}

/** A device that can take the model alone. */
type Fit = Assessed & { backend: Backend; note: undefined }

const canTake = (a: Assessed): a is Fit => a.backend !== undefined && a.note === undefined

interface Split {
  hive: HiveEntry
  members: Assessed[]
  backend: Backend
  needMb: number
  slackMb: number
}

function unusableWhy(device: Device): string {
  const why = device.backends
    .filter((b) => !b.usable)
    .map((b) => `${b.backend}: ${b.reason ?? 'does not load'}`)
  return why.length > 0 ? why.join(', ') : `${device.backend} was not tried`
}

function assess(
  hive: HiveEntry,
  device: Device,
  label: string,
  needMb: number,
  usage: DeviceUsage,
  o: PlacementOptions,
): Assessed {
  const reservedMb = o.reserved?.get(deviceKey(hive.id, device.id)) ?? 0
  const availMb = Math.max(0, device.memory_free_mb - reservedMb)
  const base = { hive, device, label, needMb, availMb, usage }
  const backend = usableBackend(device)
  if (!backend) return { ...base, backend, note: `skipped: no usable backend (${unusableWhy(device)})` }
  const blocked = o.blocked?.(hive.id, device.id)
  if (blocked) return { ...base, backend: undefined, note: `skipped: ${blocked}` }
  if (availMb < needMb) {
    const promised = reservedMb > 0 ? ` (${mb(reservedMb)} more promised to spawns in flight)` : ''
    return { ...base, backend, note: `too small: ${mb(availMb)} free${promised}` }
  }
  return { ...base, backend, note: undefined }
}

/** One worker per GPU first (no worker of this model there), then best fit, then least loaded. */
function better(a: Assessed, b: Assessed): boolean {
  const aFree = a.usage.ofModel === 0
  if (aFree !== (b.usage.ofModel === 0)) return aFree
  const slackA = a.availMb - a.needMb
  const slackB = b.availMb - b.needMb
  if (slackA !== slackB) return slackA < slackB
  if (a.usage.workers !== b.usage.workers) return a.usage.workers < b.usage.workers
  return a.usage.busySlots < b.usage.busySlots
}

function lostTo(loser: Assessed, winner: Assessed, model: string): string {
  if (loser.usage.ofModel > 0 && winner.usage.ofModel === 0) return `not chosen: runs ${model} already`
  if (loser.availMb - loser.needMb !== winner.availMb - winner.needMb) {
    return `not chosen: ${mb(loser.availMb)} free, ${winner.label} is the tighter fit`
  }
  const { workers, busySlots } = loser.usage
  return `not chosen: busier (${workers} worker${workers === 1 ? '' : 's'}, ${busySlots} busy slot${busySlots === 1 ? '' : 's'})`
}

/**
 * The fewest GPUs of one hive with the same usable backend whose free memory together holds
 * the model (largest first), or undefined.
 */
function splitOn(hive: HiveEntry, needMb: number, devices: readonly Assessed[]): Split | undefined {
  const byBackend = new Map<Backend, Assessed[]>()
  for (const a of devices) {
    if (a.hive !== hive || a.device.type !== 'gpu' || !a.backend || a.availMb <= 0) continue
    byBackend.set(a.backend, [...(byBackend.get(a.backend) ?? []), a])
  }
  let best: Split | undefined
  for (const [backend, gpus] of byBackend) {
    gpus.sort((x, y) => y.availMb - x.availMb)
    const members: Assessed[] = []
    let sum = 0
    for (const g of gpus) {
      if (sum >= needMb) break
      members.push(g)
      sum += g.availMb
    }
    if (sum < needMb || members.length < 2) continue
    const split = { hive, members, backend, needMb, slackMb: sum - needMb }
    if (!best || betterSplit(split, best)) best = split
  }
  return best
}

function betterSplit(a: Split, b: Split): boolean {
  if (a.members.length !== b.members.length) return a.members.length < b.members.length
  if (a.slackMb !== b.slackMb) return a.slackMb < b.slackMb
  const load = (s: Split): number => s.members.reduce((n, m) => n + m.usage.workers, 0)
  return load(a) < load(b)
}

function listNotes(notes: string[]): string {
  if (notes.length <= MAX_NOTES) return notes.join('; ')
  return `${notes.slice(0, MAX_NOTES).join('; ')}; and ${notes.length - MAX_NOTES} more devices`
}

/** What was chosen, then why the other devices were not. */
const withNotes = (head: string, notes: string[]): string =>
  notes.length > 0 ? `${head}; ${listNotes(notes)}` : head

/**
 * Chooses the devices for a new worker of `model` among hives that have it in their catalog.
 * A device can take the model when it has a usable backend (see `usableBackend`), is not skipped
 * for failed spawns (`blocked`), and has the model's estimate free after what spawns in flight
 * were promised (`reserved`). Any GPU that can beats every CPU, on any hive: among GPUs, one that
 * runs no worker of the model first, then the best fit (the least memory left over, which keeps
 * large holes for large models), then the fewest workers and busy slots. When no single GPU can,
 * the fewest GPUs of one hive with the same backend whose free memory together holds it (a split,
 * each taking a share in proportion to its free memory). The CPU last, by the same order.
 * @throws RbeeError `RBEE_NO_CAPACITY` naming what the model needs, what is free and why devices
 * were skipped.
 */
export function choosePlacement(
  model: string,
  hives: readonly HiveEntry[],
  o: PlacementOptions = {},
): Placement {
  const all: Assessed[] = []
  const empty: string[] = []
  const withModel: Array<{ hive: HiveEntry; needMb: number }> = []
  for (const hive of hives) {
    const entry = hive.catalog?.find((m) => m.id === model && m.available)
    if (entry) withModel.push({ hive, needMb: entry.memory_estimate_mb })
  }
  const labelled = withModel.length > 1
  for (const { hive, needMb } of withModel) {
    if (hive.devices.length === 0) empty.push(`${hive.id}: no devices reported yet`)
    const usage = deviceUsage(hive, model)
    for (const device of hive.devices) {
      const label = labelled ? deviceKey(hive.id, device.id) : device.id
      all.push(assess(hive, device, label, needMb, usage.get(device.id) ?? NO_USAGE, o))
    }
  }
  const fits = (type: Device['type']): Fit | undefined => {
    let best: Fit | undefined
    for (const a of all) if (a.device.type === type && canTake(a) && (!best || better(a, best))) best = a
    return best
  }
  const notesBut = (chosen: ReadonlySet<Assessed>, why: (a: Assessed) => string): string[] =>
    all.filter((a) => !chosen.has(a)).map((a) => `${a.label} ${a.note ?? why(a)}`)

  const gpu = fits('gpu')
  if (gpu) {
    const notes = notesBut(new Set([gpu]), (a) =>
      a.device.type === 'cpu' ? 'not chosen: a GPU fits' : lostTo(a, gpu, model),
    )
    return single(gpu, `${gpu.label} ${gpu.backend}, ${mb(gpu.availMb)} free`, notes)
  }

  let split: Split | undefined
  for (const { hive, needMb } of withModel) {
    const s = splitOn(hive, needMb, all)
    if (s && (!split || betterSplit(s, split))) split = s
  }
  if (split) {
    const total = split.members.reduce((n, m) => n + m.availMb, 0)
    // In proportion to free memory, as llama.cpp splits layers by default.
    const parts = split.members.map((m) => ({ m, mb: Math.ceil((split.needMb * m.availMb) / total) }))
    const notes = notesBut(new Set(split.members), () => 'not chosen: GPUs fit together')
    const head = `split across ${parts.length} GPUs (${split.backend}): ${parts
      .map(({ m, mb: share }) => `${m.label} ${mb(share)} of ${mb(m.availMb)} free`)
      .join(', ')}`
    return {
      hive: split.hive,
      shares: parts.map(({ m, mb: share }) => ({ device: m.device, mb: share })),
      backend: split.backend,
      needMb: split.needMb,
      selection: parts.map(({ m }) => deviceIndex(m.device)),
      reason: withNotes(head, notes),
    }
  }

  const cpu = fits('cpu')
  if (cpu) {
    const gpus = all.some((a) => a.device.type === 'gpu')
    const notes = notesBut(new Set([cpu]), (a) => lostTo(a, cpu, model))
    return single(
      cpu,
      `${cpu.label}, ${mb(cpu.availMb)} free: ${gpus ? 'no GPU can take it' : 'no GPU reported'}`,
      notes,
    )
  }

  const needMb = Math.max(0, ...withModel.map((w) => w.needMb))
  const notes = [...all.map((a) => `${deviceKey(a.hive.id, a.device.id)} ${a.note}`), ...empty]
  throw new RbeeError(
    'RBEE_NO_CAPACITY',
    `model ${model} needs ${mb(needMb)}, no device can take it: ${notes.length > 0 ? listNotes(notes) : 'no hive has it'}`,
    { retryAfterS: 30 },
  )
}

function deviceIndex(device: Device): number {
  return Number(device.id.split(':')[1] ?? 0)
}

function single(a: Fit, head: string, notes: string[]): Placement {
  return {
    hive: a.hive,
    shares: [{ device: a.device, mb: a.needMb }],
    backend: a.backend,
    needMb: a.needMb,
    selection: deviceIndex(a.device),
    reason: withNotes(head, notes),
  }
}
