import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** A small RAM-backed file system mounted for one test: a disk that really fills up. */
export interface Tmpfs {
  dir: string
  /**
   * Writes a file of zeros into the file system until a write fails with `ENOSPC` (as another
   * program filling the disk would); resolves with its path and the bytes written.
   */
  fill(name?: string): Promise<{ path: string; bytes: number }>
  /** Unmounts (lazily when something still holds a file open) and removes the directory. Idempotent. */
  close(): Promise<void>
}

/** True when this process may mount file systems (root with `mount`). */
export async function canMountTmpfs(): Promise<boolean> {
  if (process.getuid?.() !== 0) return false
  try {
    await run('mount', ['--version'])
    return true
  } catch {
    return false
  }
}

/**
 * Mounts a tmpfs of `sizeBytes` at `dir` (created when missing), or at a fresh temporary
 * directory. Needs root (see {@link canMountTmpfs}).
 */
export async function mountTmpfs(sizeBytes: number, dir?: string): Promise<Tmpfs> {
  const at = dir ?? (await mkdtemp(join(tmpdir(), 'rbee-tmpfs-')))
  await mkdir(at, { recursive: true })
  await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0755`, 'tmpfs', at])
  let closed: Promise<void> | undefined
  return {
    dir: at,
    async fill(name = 'filler') {
      const path = join(at, name)
      const fh = await open(path, 'w')
      let bytes = 0
      try {
        // Large writes first, then page-sized ones for the last partial megabyte.
        for (const size of [1024 * 1024, 4096]) {
          const zeros = Buffer.alloc(size)
          for (;;) {
            try {
              const { bytesWritten } = await fh.write(zeros)
              bytes += bytesWritten
              if (bytesWritten < size) break
            } catch (err) {
              if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
              break
            }
          }
        }
      } finally {
        await fh.close()
      }
      return { path, bytes }
    },
    close() {
      closed ??= (async () => {
        await run('umount', [at]).catch(() => run('umount', ['-l', at]).catch(() => {}))
        await rm(at, { recursive: true, force: true })
      })()
      return closed
    },
  }
}
