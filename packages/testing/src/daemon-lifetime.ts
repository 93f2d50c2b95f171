import { rm } from 'node:fs/promises'
import type { ManagedProcess } from './managed-process.js'

/**
 * How a daemon a test started ends: `close` stops it (SIGTERM, then SIGKILL after the grace) and
 * removes its data dir when the harness made one; `abort` does the same at once, for a daemon
 * that failed to start.
 */
export function daemonLifetime(proc: ManagedProcess, home: string, ownHome: boolean) {
  const cleanup = async (): Promise<void> => {
    if (ownHome) await rm(home, { recursive: true, force: true })
  }
  return {
    close: async (graceMs = 15_000) => {
      const exit = await proc.close(graceMs)
      await cleanup()
      return exit
    },
    abort: async (): Promise<void> => {
      await proc.close(1000)
      await cleanup()
    },
  }
}
