import { closeSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs'

export interface RotatingLogOptions {
  path: string
  /** Rotate when the file would grow past this. @default 10 MiB */
  maxBytes?: number
  /** Rotated files kept (`.1` newest). @default 3 */
  keep?: number
  /** Last lines kept in memory for error messages. @default 50 */
  tailLines?: number
  /** Permissions of files this log creates. @default 0o644 (before the umask) */
  mode?: number
}

/**
 * An append-only log file with size rotation (`x.log` → `x.log.1` → … `x.log.<keep>`), plus the
 * last lines in memory so a failure message can quote them. Writes are synchronous appends of
 * whole lines: a crash never leaves half a line, and ordering across stdout and stderr holds.
 */
export class RotatingLog {
  readonly path: string
  readonly #maxBytes: number
  readonly #keep: number
  readonly #tailMax: number
  readonly #tail: string[] = []
  readonly #mode: number
  #fd: number | undefined
  #size: number

  constructor(options: RotatingLogOptions) {
    this.path = options.path
    this.#maxBytes = options.maxBytes ?? 10 * 1024 * 1024
    this.#keep = options.keep ?? 3
    this.#tailMax = options.tailLines ?? 50
    this.#mode = options.mode ?? 0o644
    this.#fd = openSync(this.path, 'a', this.#mode)
    this.#size = statSync(this.path).size
  }

  /** Appends one line (a newline is added). Ignored after `close()`. */
  write(line: string): void {
    this.#tail.push(line)
    if (this.#tail.length > this.#tailMax) this.#tail.shift()
    if (this.#fd === undefined) return
    const buf = Buffer.from(`${line}\n`)
    if (this.#size > 0 && this.#size + buf.length > this.#maxBytes) this.#rotate()
    if (this.#fd === undefined) return
    writeSync(this.#fd, buf)
    this.#size += buf.length
  }

  /** The last `n` lines written (across restarts of the same worker). */
  tail(n = 20): string[] {
    return this.#tail.slice(-n)
  }

  #rotate(): void {
    if (this.#fd !== undefined) closeSync(this.#fd)
    this.#fd = undefined
    try {
      unlinkSync(`${this.path}.${this.#keep}`)
    } catch {
      // not there yet
    }
    for (let i = this.#keep - 1; i >= 1; i--) {
      try {
        renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`)
      } catch {
        // not there yet
      }
    }
    if (this.#keep > 0) renameSync(this.path, `${this.path}.1`)
    else unlinkSync(this.path)
    this.#fd = openSync(this.path, 'a', this.#mode)
    this.#size = 0
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd)
    this.#fd = undefined
  }
}
