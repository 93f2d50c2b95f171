import { statfs } from 'node:fs/promises'
import { formatBytes, RbeeError } from '@rbee/common'

/** Free space a download leaves on the models' file system, in MiB, unless told otherwise. */
export const DEFAULT_DOWNLOAD_DISK_MARGIN_MB = 256

/** While a file downloads, free space is checked again after every this many bytes written. */
export const SPACE_CHECK_EVERY_BYTES = 4 * 1024 * 1024

/** True for a write that failed because the disk (or the user's quota) is full. */
export function isNoSpaceError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  return code === 'ENOSPC' || code === 'EDQUOT'
}

/** Bytes an unprivileged writer may still use on the file system holding `dir` (`bavail`). */
export async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir)
  return s.bavail * s.bsize
}

export interface DownloadSpaceOptions {
  /** What is downloaded, for messages (`m.gguf from org/repo`). */
  what: string
  /** A directory on the file system the download writes to (the models dir). */
  dir: string
  /** The partial file the bytes go to. */
  partial: string
  /** The file's size; undefined when the hub gives none (then only the margin is checked). */
  total: number | undefined
  /** Free bytes to leave. */
  margin: number
  /** What could be freed there (`rbee model rm …`), said after the figures. */
  hint: () => Promise<string>
}

/**
 * The free-space rule of one download: free space must cover the bytes still to download plus a
 * margin, before the transfer starts and as it goes. It refuses with the figures (needed, free,
 * where) and what to free, as RbeeError `RBEE_DISK_FULL`, never retried.
 *
 * What happens to the partial file: one from an earlier run is kept when the download is refused
 * before it starts (it resumes later). One that stops as it goes is kept for resume while the file
 * system still has the margin free, and removed when the disk is full (or below the margin): a
 * download must not leave the disk full. `dropPartial` says which; the caller removes it.
 */
export class DownloadSpace {
  readonly #o: DownloadSpaceOptions
  /** True once the partial file must be removed (the disk is full). */
  dropPartial = false

  constructor(options: DownloadSpaceOptions) {
    this.#o = options
  }

  /** The check before the transfer starts, with `have` bytes already in the partial file. */
  async before(have: number): Promise<void> {
    const { total, margin, partial } = this.#o
    const remaining = total === undefined ? 0 : Math.max(0, total - have)
    const free = await freeBytes(this.#o.dir)
    if (free >= remaining + margin) return
    const kept =
      have > 0 ? `; the ${formatBytes(have)} already downloaded are kept in ${partial} to resume` : ''
    throw new RbeeError(
      'RBEE_DISK_FULL',
      `not enough disk space to download ${this.#o.what}: ${this.#figures(remaining, free)}; free at least ${formatBytes(remaining + margin - free)} ${await this.#o.hint()}${kept}`,
      { details: this.#details(remaining, free) },
    )
  }

  /** The check as the transfer goes, with `have` bytes written so far. */
  async during(have: number): Promise<void> {
    const { total, margin } = this.#o
    const remaining = total === undefined ? 0 : Math.max(0, total - have)
    const free = await freeBytes(this.#o.dir)
    if (free >= remaining + margin) return
    throw await this.#stopped(
      have,
      free,
      `free space ran low while downloading ${this.#o.what}`,
      free < margin,
    )
  }

  /** The error for a write that found the disk full (`ENOSPC`, `EDQUOT`). */
  async full(have: number, cause: unknown): Promise<RbeeError> {
    const free = await freeBytes(this.#o.dir).catch(() => 0)
    const code = (cause as NodeJS.ErrnoException).code ?? 'ENOSPC'
    return this.#stopped(
      have,
      free,
      `the disk filled up while downloading ${this.#o.what} (${code})`,
      true,
      cause,
    )
  }

  async #stopped(
    have: number,
    free: number,
    what: string,
    drop: boolean,
    cause?: unknown,
  ): Promise<RbeeError> {
    const { total, margin, partial } = this.#o
    const remaining = total === undefined ? 0 : Math.max(0, total - have)
    this.dropPartial = drop
    const then = this.dropPartial
      ? `the ${formatBytes(have)} downloaded so far were removed so the disk is not left full; free at least ${formatBytes(Math.max(0, (total ?? have) + margin - free - have))} ${await this.#o.hint()}, then download again`
      : `the ${formatBytes(have)} downloaded so far are kept in ${partial}; free at least ${formatBytes(remaining + margin - free)} ${await this.#o.hint()}, then download again to resume`
    return new RbeeError(
      'RBEE_DISK_FULL',
      `${what}: ${this.#figures(remaining, free)}; the download was stopped at once (not retried) and ${then}`,
      { details: this.#details(remaining, free), ...(cause === undefined ? {} : { cause }) },
    )
  }

  #figures(remaining: number, free: number): string {
    const { margin, dir } = this.#o
    return `it needs ${formatBytes(remaining + margin)} free (${formatBytes(remaining)} still to download + ${formatBytes(margin)} margin) on the file system of ${dir}, which has ${formatBytes(free)} free`
  }

  #details(remaining: number, free: number): Record<string, unknown> {
    return {
      path: this.#o.dir,
      needed_bytes: remaining + this.#o.margin,
      remaining_bytes: remaining,
      margin_bytes: this.#o.margin,
      free_bytes: free,
    }
  }
}
