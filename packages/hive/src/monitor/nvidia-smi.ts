import { execFile } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'
import { errorMessage, type Logger } from '@rbee/common'

/** One GPU as `nvidia-smi --query-gpu` reports it. */
export interface GpuInfo {
  index: number
  uuid: string
  name: string
  memoryTotalMb: number
  memoryFreeMb: number
  utilizationPct: number
}

/** One process using a GPU, from `nvidia-smi --query-compute-apps`. */
export interface GpuProcess {
  pid: number
  usedMemoryMb: number
  gpuUuid: string
}

/** The `--query-gpu` fields, in the order the parser expects them. */
export const GPU_QUERY = 'index,uuid,name,memory.total,memory.free,utilization.gpu'
/** The `--query-compute-apps` fields, in the order the parser expects them. */
export const APPS_QUERY = 'pid,used_memory,gpu_uuid'

/** A CSV number; `[N/A]`, `[Not Supported]` and the like read as 0. */
function num(s: string | undefined): number {
  const v = Number((s ?? '').trim())
  return Number.isFinite(v) ? v : 0
}

function rows(text: string): string[][] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith('No running'))
    .map((l) => l.split(',').map((c) => c.trim()))
}

/**
 * Parses `nvidia-smi --query-gpu=index,uuid,name,memory.total,memory.free,utilization.gpu
 * --format=csv,noheader,nounits`. Lines that do not have every field are skipped.
 */
export function parseGpuCsv(text: string): GpuInfo[] {
  return rows(text)
    .filter((c) => c.length >= 6 && /^\d+$/.test(c[0] ?? ''))
    .map((c) => ({
      index: num(c[0]),
      uuid: c[1] ?? '',
      // A GPU name may itself contain commas; everything between uuid and the numbers is the name.
      name: c.slice(2, c.length - 3).join(', '),
      memoryTotalMb: num(c[c.length - 3]),
      memoryFreeMb: num(c[c.length - 2]),
      utilizationPct: num(c[c.length - 1]),
    }))
}

/** Parses `nvidia-smi --query-compute-apps=pid,used_memory,gpu_uuid --format=csv,noheader,nounits`. */
export function parseComputeAppsCsv(text: string): GpuProcess[] {
  return rows(text)
    .filter((c) => c.length >= 2 && /^\d+$/.test(c[0] ?? ''))
    .map((c) => ({ pid: num(c[0]), usedMemoryMb: num(c[1]), gpuUuid: c[2] ?? '' }))
}

/** What one query of all GPUs found. */
export interface GpuSnapshot {
  gpus: GpuInfo[]
  processes: GpuProcess[]
}

export interface NvidiaSmiOptions {
  /** Path of the `nvidia-smi` binary (tests point it at a fixture script). */
  command: string
  logger: Logger
  /** @default 5000 */
  timeoutMs?: number
}

function run(command: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs, maxBuffer: 1024 * 1024 }, (err, stdout) => {
      if (err) reject(err)
      else resolve(stdout)
    })
  })
}

/**
 * Queries GPUs through `nvidia-smi`. A failing query yields no GPUs (logged once until it works
 * again), so a broken driver degrades the hive to CPU instead of stopping it.
 */
export class NvidiaSmi {
  readonly #o: Required<NvidiaSmiOptions>
  #failing = false
  #lastError: string | undefined

  constructor(options: NvidiaSmiOptions) {
    this.#o = { timeoutMs: 5000, ...options }
  }

  get command(): string {
    return this.#o.command
  }

  /** Why the last query failed; undefined after one that worked. */
  get lastError(): string | undefined {
    return this.#lastError
  }

  async query(): Promise<GpuSnapshot> {
    const fmt = '--format=csv,noheader,nounits'
    try {
      const [gpuText, appsText] = await Promise.all([
        run(this.#o.command, [`--query-gpu=${GPU_QUERY}`, fmt], this.#o.timeoutMs),
        run(this.#o.command, [`--query-compute-apps=${APPS_QUERY}`, fmt], this.#o.timeoutMs),
      ])
      if (this.#failing) this.#o.logger.info({ command: this.#o.command }, 'nvidia-smi works again')
      this.#failing = false
      this.#lastError = undefined
      return { gpus: parseGpuCsv(gpuText), processes: parseComputeAppsCsv(appsText) }
    } catch (err) {
      if (!this.#failing) {
        this.#o.logger.warn(
          { command: this.#o.command, err: errorMessage(err) },
          'nvidia-smi failed; no GPU figures',
        )
      }
      this.#failing = true
      this.#lastError = errorMessage(err)
      return { gpus: [], processes: [] }
    }
  }
}

/** Standard places of `nvidia-smi` when no PATH is given. */
export const STANDARD_BIN_DIRS = ['/usr/bin', '/usr/local/bin', '/usr/local/nvidia/bin', '/bin']

/** The first executable `name` in `dirs` (a PATH string or a list), or undefined. */
export function findExecutable(name: string, dirs: string | readonly string[]): string | undefined {
  const list = typeof dirs === 'string' ? dirs.split(delimiter).filter(Boolean) : dirs
  for (const dir of list) {
    const p = join(dir, name)
    try {
      accessSync(p, constants.X_OK)
      return p
    } catch {
      // not here
    }
  }
  return undefined
}
