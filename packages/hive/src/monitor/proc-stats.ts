import { readFile } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`). Linux fixes it at 100 on every
 * architecture Node runs on, whatever the kernel's internal HZ.
 */
export const CLOCK_TICKS_PER_S = 100

/** The fields of `/proc/<pid>/stat` the monitor uses. */
export interface ProcStat {
  comm: string
  state: string
  /** utime + stime, in clock ticks. */
  cpuTicks: number
  /** Start time after boot, in clock ticks. */
  startTicks: number
}

/**
 * Parses `/proc/<pid>/stat`. The command name (field 2) may hold spaces and parentheses, so the
 * fields are counted from the last `)`.
 * @throws Error when the text is not a stat line.
 */
export function parseProcStat(text: string): ProcStat {
  const open = text.indexOf('(')
  const close = text.lastIndexOf(')')
  if (open < 0 || close < open) throw new Error(`not a /proc stat line: ${text.slice(0, 80)}`)
  // After ")": field 3 (state) is index 0, so field N is index N - 3.
  const rest = text
    .slice(close + 2)
    .trim()
    .split(/\s+/)
  const field = (n: number): number => {
    const v = Number(rest[n - 3])
    if (!Number.isFinite(v)) throw new Error(`/proc stat field ${n} is not a number`)
    return v
  }
  return {
    comm: text.slice(open + 1, close),
    state: rest[0] ?? '?',
    cpuTicks: field(14) + field(15),
    startTicks: field(22),
  }
}

/** `VmRSS` from `/proc/<pid>/status`, in kB (0 when absent, as for a zombie). */
export function parseProcStatusRssKb(text: string): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(text)
  return m ? Number(m[1]) : 0
}

/** `read_bytes` / `write_bytes` (storage I/O) from `/proc/<pid>/io`. */
export function parseProcIo(text: string): { readBytes: number; writeBytes: number } {
  const get = (key: string): number => {
    const m = new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)
    return m ? Number(m[1]) : 0
  }
  return { readBytes: get('read_bytes'), writeBytes: get('write_bytes') }
}

/** Seconds since boot, from `/proc/uptime`. */
export function parseUptime(text: string): number {
  const v = Number(text.trim().split(/\s+/)[0])
  if (!Number.isFinite(v)) throw new Error('malformed /proc/uptime')
  return v
}

/** One reading of a process. */
export interface ProcSample {
  pid: number
  /** `performance.now()` when read. */
  atMs: number
  cpuTicks: number
  rssKb: number
  readBytes: number
  writeBytes: number
  uptimeS: number
}

/**
 * Reads a process's figures from `/proc` (or another root, for tests). Resolves `undefined` when
 * the process no longer exists. `/proc/<pid>/io` needs the same user; without it I/O reads as 0.
 */
export async function readProcSample(pid: number, procRoot = '/proc'): Promise<ProcSample | undefined> {
  const dir = join(procRoot, String(pid))
  let statText: string
  let statusText: string
  try {
    ;[statText, statusText] = await Promise.all([
      readFile(join(dir, 'stat'), 'utf8'),
      readFile(join(dir, 'status'), 'utf8'),
    ])
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ESRCH') return undefined
    throw err
  }
  const io = await readFile(join(dir, 'io'), 'utf8').then(parseProcIo, () => ({
    readBytes: 0,
    writeBytes: 0,
  }))
  const stat = parseProcStat(statText)
  const bootS = parseUptime(await readFile(join(procRoot, 'uptime'), 'utf8'))
  return {
    pid,
    atMs: performance.now(),
    cpuTicks: stat.cpuTicks,
    rssKb: parseProcStatusRssKb(statusText),
    readBytes: io.readBytes,
    writeBytes: io.writeBytes,
    uptimeS: Math.max(0, bootS - stat.startTicks / CLOCK_TICKS_PER_S),
  }
}

/** Rates between two samples of the same process. */
export interface ProcRates {
  cpu_pct: number
  rss_mb: number
  io_r_mb_s: number
  io_w_mb_s: number
  uptime_s: number
}

const MB = 1024 * 1024

/**
 * Turns a sample (and the previous one, if any) into ProcessStats figures: `cpu_pct` from the tick
 * delta over the wall-clock delta (100 = one core), I/O rates in MB/s. Without a previous sample
 * the rates are 0.
 */
export function ratesBetween(prev: ProcSample | undefined, cur: ProcSample): ProcRates {
  const dtS = prev ? (cur.atMs - prev.atMs) / 1000 : 0
  const rate = (a: number, b: number): number => (dtS > 0 ? Math.max(0, b - a) / dtS : 0)
  const round = (v: number, d = 2): number => Math.round(v * 10 ** d) / 10 ** d
  return {
    cpu_pct: round(prev ? (rate(prev.cpuTicks, cur.cpuTicks) / CLOCK_TICKS_PER_S) * 100 : 0, 1),
    rss_mb: round(cur.rssKb / 1024, 1),
    io_r_mb_s: round(prev ? rate(prev.readBytes, cur.readBytes) / MB : 0, 3),
    io_w_mb_s: round(prev ? rate(prev.writeBytes, cur.writeBytes) / MB : 0, 3),
    uptime_s: round(cur.uptimeS, 2),
  }
}

/**
 * Keeps the last sample per pid so each call yields rates over the time since the previous one.
 */
export class ProcessSampler {
  readonly #last = new Map<number, ProcSample>()
  readonly #procRoot: string

  constructor(procRoot = '/proc') {
    this.#procRoot = procRoot
  }

  /** Figures for `pid`, or undefined when it is gone. */
  async sample(pid: number): Promise<ProcRates | undefined> {
    const cur = await readProcSample(pid, this.#procRoot)
    if (!cur) {
      this.#last.delete(pid)
      return undefined
    }
    const rates = ratesBetween(this.#last.get(pid), cur)
    this.#last.set(pid, cur)
    return rates
  }

  /** Drops samples of pids not in `live` (exited workers). */
  retain(live: ReadonlySet<number>): void {
    for (const pid of this.#last.keys()) if (!live.has(pid)) this.#last.delete(pid)
  }
}
