import type { Output } from './output.js'

/** Environment variables, as main.ts read them. */
export type Env = Readonly<Record<string, string | undefined>>

/** What every command gets from main.ts: no command reads process state itself. */
export interface CliContext {
  env: Env
  out: Output
  /** Aborted on Ctrl+C (SIGINT) or SIGTERM. */
  signal: AbortSignal
  /** The current directory (relative model paths are resolved against it). */
  cwd: string
  /** The user's home directory. */
  home: string
  /** Reads all of standard input (for `rbee infer -`). */
  readStdin: () => Promise<string>
}

/** Exit codes scripts can rely on. */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  /**
   * The queen's queue for the model was full and `--no-wait` said not to wait (EX_TEMPFAIL:
   * try again later).
   */
  busy: 75,
  /** The command's `--timeout` passed first (as `timeout(1)` reports it). */
  timeout: 124,
  /** Interrupted by Ctrl+C (128 + SIGINT), as shells report it. */
  interrupted: 130,
} as const
