import { open, stat } from 'node:fs/promises'
import { delay, RELOAD_DONE } from '@rbee/common/base'
import type { QueenFiles } from './queen-daemon.js'

/** Most of the log read after the signal (a reload logs a few lines). */
const MAX_READ_BYTES = 256 * 1024

/** One log line of a reload: its pino level, message and the other fields. */
export interface ReloadLogLine {
  level: number
  msg: string
  fields: Record<string, unknown>
}

/** Fields every pino line has (and the reload's number); not worth showing. */
const NOISE = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'reload'])

function parseLine(line: string): ReloadLogLine | undefined {
  let v: unknown
  try {
    v = JSON.parse(line)
  } catch {
    return undefined
  }
  if (typeof v !== 'object' || v === null) return undefined
  const o = v as Record<string, unknown>
  // Only the reload's own lines: the queen binds each reload's number to them.
  if (typeof o.msg !== 'string' || typeof o.level !== 'number' || typeof o.reload !== 'number')
    return undefined
  const fields = Object.fromEntries(Object.entries(o).filter(([k]) => !NOISE.has(k)))
  return { level: o.level, msg: o.msg, fields }
}

async function readFrom(path: string, offset: number): Promise<string> {
  const fh = await open(path, 'r')
  try {
    const size = (await fh.stat()).size
    const length = Math.min(MAX_READ_BYTES, Math.max(0, size - offset))
    const buf = Buffer.alloc(length)
    await fh.read(buf, 0, length, offset)
    return buf.toString('utf8')
  } finally {
    await fh.close()
  }
}

/**
 * Sends SIGHUP to the queen `pid` (one rbee started, logging to `files.logFile`) and collects
 * what it logs about the reload (its lines carry a `reload` number), up to its "reload done".
 * @returns the reload's log lines, and whether "reload done" was seen within `timeoutMs`.
 */
export async function reloadQueen(options: {
  pid: number
  files: QueenFiles
  /** @default 10_000 */
  timeoutMs?: number
  signal?: AbortSignal
}): Promise<{ lines: ReloadLogLine[]; done: boolean }> {
  const { logFile } = options.files
  const from = (await stat(logFile).catch(() => undefined))?.size ?? 0
  process.kill(options.pid, 'SIGHUP')
  const deadline = Date.now() + (options.timeoutMs ?? 10_000)
  let wait = 25
  for (;;) {
    const text = await readFrom(logFile, from).catch(() => '')
    const all = text
      .split('\n')
      .map(parseLine)
      .filter((l) => l !== undefined)
    const end = all.findIndex((l) => l.msg === RELOAD_DONE)
    if (end >= 0) return { lines: all.slice(0, end), done: true }
    if (Date.now() >= deadline) return { lines: all, done: false }
    await delay(wait, options.signal)
    wait = Math.min(250, wait * 2)
  }
}
