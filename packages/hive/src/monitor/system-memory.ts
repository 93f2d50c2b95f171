import { readFile } from 'node:fs/promises'
import { freemem, totalmem } from 'node:os'

/** RAM figures in MB. */
export interface SystemMemory {
  totalMb: number
  /** What new processes can use without swapping (`MemAvailable`), not just unused pages. */
  availableMb: number
}

/** Parses `/proc/meminfo` (`MemTotal`, `MemAvailable`, kB). */
export function parseMeminfo(text: string): SystemMemory | undefined {
  const kb = (key: string): number | undefined => {
    const m = new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, 'm').exec(text)
    return m ? Number(m[1]) : undefined
  }
  const total = kb('MemTotal')
  const available = kb('MemAvailable') ?? kb('MemFree')
  if (total === undefined || available === undefined) return undefined
  return { totalMb: Math.floor(total / 1024), availableMb: Math.floor(available / 1024) }
}

/** RAM from `/proc/meminfo`, or from Node's figures where that file is missing. */
export async function readSystemMemory(procRoot = '/proc'): Promise<SystemMemory> {
  const parsed = await readFile(`${procRoot}/meminfo`, 'utf8').then(parseMeminfo, () => undefined)
  return (
    parsed ?? {
      totalMb: Math.floor(totalmem() / (1024 * 1024)),
      availableMb: Math.floor(freemem() / (1024 * 1024)),
    }
  )
}
