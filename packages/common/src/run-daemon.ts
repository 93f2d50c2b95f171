import { ConfigError } from './config-flags.js'
import { errorMessage, RbeeError } from './errors.js'
import { createLogger, type Logger } from './logger.js'

/** A daemon as `runDaemon` drives it. */
export interface Daemon {
  /** Drains and stops everything it started. Called once. */
  close(): Promise<void>
  /** SIGHUP: re-reads its files and keeps serving. Called only once `start` resolved. */
  reload(): void | Promise<void>
}

/** What a daemon's `create` is given. */
export interface DaemonContext {
  argv: readonly string[]
  env: NodeJS.ProcessEnv
  /** Named after the daemon; its stop and reload messages go here. */
  logger: Logger
  /** Stops the daemon as SIGTERM does (for `POST /v1/shutdown`). */
  stop: (why: string) => void
}

/** One daemon process: how it is built from argv/env, started and stopped. */
export interface DaemonSpec<D extends Daemon> {
  /** The command's name, in messages (`queen-rbee: …`) and the logger. */
  name: string
  /** Printed by `--help` / `-h`. */
  usage: string
  /** Printed by `--version`. */
  version: string
  /**
   * Builds the daemon from argv/env, binding nothing yet.
   * A `ConfigError` or an `RbeeError` `RBEE_CONFIG` exits 2, anything else 1.
   */
  create: (ctx: DaemonContext) => Promise<D>
  /** Binds, starts, and tells a parent it is up (stdout). A throw closes the daemon and exits 1. */
  start: (daemon: D) => Promise<void>
  /**
   * Writes why the process ends with `exitCode` (1 or 2); the default writes `name: message`
   * to stderr (and for 2, where to find the usage).
   */
  onFatal?: (err: unknown, exitCode: 1 | 2) => void
  /** A stop that has not finished after this long exits 1. @default none (the daemon's close bounds itself) */
  forceExitMs?: number
  /**
   * A second stop request while stopping: `exit` ends at once (exit 1), `ignore` keeps
   * draining (a terminal's Ctrl+C and a parent's SIGTERM often come together).
   */
  repeatStop: 'exit' | 'ignore'
}

/** True for the errors that mean "started wrong" (exit code 2). */
export function isConfigError(err: unknown): boolean {
  return err instanceof ConfigError || (err instanceof RbeeError && err.code === 'RBEE_CONFIG')
}

/**
 * Runs a daemon as its `main.ts`: `--help`/`--version`, then `create`, signals (SIGTERM/SIGINT
 * stop gracefully, SIGHUP reloads once started), the stdin lifeline (`RBEE_EXIT_WITH_STDIN=1`:
 * the parent holds stdin open; when it goes away, even killed -9, so does the daemon), `start`,
 * and the exit codes: 0 after a graceful stop, 1 for a failure, 2 for bad configuration. The one
 * place besides a `main.ts` that calls `process.exit`.
 */
export async function runDaemon<D extends Daemon>(spec: DaemonSpec<D>): Promise<void> {
  const argv = process.argv.slice(2)
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(spec.usage)
    process.exit(0)
  }
  if (argv.includes('--version')) {
    process.stdout.write(`${spec.version}\n`)
    process.exit(0)
  }
  function fatal(err: unknown, exitCode: 1 | 2, what = ''): never {
    if (spec.onFatal) spec.onFatal(err, exitCode)
    else {
      const hint = exitCode === 2 ? `Run ${spec.name} --help for usage.\n` : ''
      process.stderr.write(`${spec.name}: ${what}${errorMessage(err)}\n${hint}`)
    }
    process.exit(exitCode)
  }
  const logger = createLogger({ name: spec.name })
  let daemon: D | undefined
  let stopping = false
  const stop = (why: string): void => {
    if (stopping) {
      if (spec.repeatStop === 'ignore') return
      logger.warn({ why }, 'second stop request: exiting now')
      process.exit(1)
    }
    stopping = true
    logger.info({ why }, 'stopping')
    if (spec.forceExitMs !== undefined) setTimeout(() => process.exit(1), spec.forceExitMs).unref()
    if (!daemon) process.exit(0)
    daemon.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err: errorMessage(err) }, 'error while stopping')
        process.exit(1)
      },
    )
  }
  let running: D
  try {
    running = await spec.create({ argv, env: process.env, logger, stop })
  } catch (err) {
    fatal(err, isConfigError(err) ? 2 : 1)
  }
  daemon = running
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  if (process.env.RBEE_EXIT_WITH_STDIN === '1') {
    process.stdin.on('end', () => stop('stdin closed'))
    process.stdin.resume()
  }
  const started = spec.start(running)
  // A SIGHUP while starting is applied once started (SIGHUP would otherwise end the process).
  process.on('SIGHUP', () => {
    void started.then(
      async () => {
        try {
          await running.reload()
        } catch (err) {
          logger.error({ err: errorMessage(err) }, 'reload failed')
        }
      },
      () => {},
    )
  })
  try {
    await started
  } catch (err) {
    if (stopping) return
    stopping = true
    await running.close().catch(() => {})
    fatal(err, 1, 'cannot start: ')
  }
}
