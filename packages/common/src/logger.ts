import { pino } from 'pino'

export type Logger = pino.Logger

export interface LoggerOptions {
  /** Service name bound to every line. */
  name: string
  /** @default process.env.RBEE_LOG_LEVEL ?? 'info' */
  level?: string
  /** Extra fields bound to every line (hive_id, worker_id…). */
  bindings?: Record<string, unknown>
  /** Where the JSON lines go (tests read them). @default stderr */
  destination?: pino.DestinationStream
}

/**
 * A pino logger writing JSON lines to stderr. Stdout stays free: a worker's stdout carries its
 * ready message to the parent, and the CLI's stdout carries tokens.
 */
export function createLogger(options: LoggerOptions): Logger {
  const level = options.level ?? process.env.RBEE_LOG_LEVEL ?? 'info'
  return pino(
    { name: options.name, level, base: { pid: process.pid, ...options.bindings } },
    options.destination ?? pino.destination({ fd: 2, sync: true }),
  )
}

/** A logger that drops everything, for library code used without one. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}
