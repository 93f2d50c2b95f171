import { spawn } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { QueenClient } from '@rbee/client'
import { delay, errorMessage, RbeeError } from '@rbee/common/base'
import type { Env } from '../cli/context.js'
import { processAlive, processCommandLine, waitForExit } from './process-info.js'

/** Files of a queen the CLI started, under the data dir. */
export interface QueenFiles {
  pidFile: string
  logFile: string
}

/** `$RBEE_HOME/queen.pid` and `$RBEE_HOME/logs/queen.log`. */
export function queenFiles(dataDir: string): QueenFiles {
  return { pidFile: join(dataDir, 'queen.pid'), logFile: join(dataDir, 'logs', 'queen.log') }
}

/**
 * The queen to start: `$RBEE_QUEEN_BIN`, else `rbee-local` of the installed `@rbee/local` package
 * (queen-rbee with this machine's hive; in this checkout: packages/local/dist/main.js).
 * @throws RbeeError `RBEE_CONFIG` when neither exists.
 */
export function resolveQueenMain(env: Env): string {
  if (env.RBEE_QUEEN_BIN) return env.RBEE_QUEEN_BIN
  try {
    return join(dirname(fileURLToPath(import.meta.resolve('@rbee/local'))), 'main.js')
  } catch (err) {
    throw new RbeeError(
      'RBEE_CONFIG',
      'cannot find rbee-local (@rbee/local is not installed; set RBEE_QUEEN_BIN)',
      {
        cause: err,
      },
    )
  }
}

/** A command line of a queen: `queen-rbee`, `rbee-local`, or their entry points in a checkout. */
const QUEEN_COMMAND = /queen|rbee-local|[/\\]local[/\\]dist[/\\]main\.js$/

/** The pid in a pid file, or undefined when there is none (or it is garbage). */
export async function readPidFile(path: string): Promise<number | undefined> {
  try {
    const n = Number((await readFile(path, 'utf8')).trim())
    return Number.isInteger(n) && n > 0 ? n : undefined
  } catch {
    return undefined
  }
}

/**
 * The pid of the queen this data dir's pid file names, if that process is alive and still a
 * queen (a recycled pid of some other program is never signalled).
 */
export async function runningQueenPid(files: QueenFiles): Promise<number | undefined> {
  const pid = await readPidFile(files.pidFile)
  if (pid === undefined || !processAlive(pid)) return undefined
  const cmd = processCommandLine(pid)
  if (cmd && !cmd.some((a) => QUEEN_COMMAND.test(a))) return undefined
  return pid
}

/** How to start a queen. */
export interface QueenLaunch {
  /** The URL the queen is to serve; its port is the one it binds. */
  url: string
  /** Bind address. @default the URL's host */
  host?: string | undefined
  dataDir: string
  apiKey?: string | undefined
  adminKey?: string | undefined
  nodeToken?: string | undefined
  hivesConf?: string | undefined
  /** More `queen-rbee` flags. */
  extraArgs?: string[]
  /** The environment the queen inherits (secrets are added to it, never put in argv). */
  env: Env
}

/** The queen's command line and environment. */
export function queenCommand(launch: QueenLaunch): {
  command: string
  args: string[]
  env: NodeJS.ProcessEnv
} {
  const url = new URL(launch.url)
  const port = url.port || (url.protocol === 'https:' ? '443' : '80')
  const host = launch.host ?? url.hostname.replace(/^\[|\]$/g, '')
  const args = [
    resolveQueenMain(launch.env),
    '--host',
    host,
    '--port',
    port,
    '--home',
    launch.dataDir,
    ...(launch.hivesConf ? ['--hives-conf', launch.hivesConf] : []),
    ...(launch.extraArgs ?? []),
  ]
  const env: NodeJS.ProcessEnv = { ...launch.env }
  // Secrets travel in the environment so `ps` does not show them.
  if (launch.apiKey) env.RBEE_API_KEY = launch.apiKey
  if (launch.adminKey) env.RBEE_ADMIN_KEY = launch.adminKey
  if (launch.nodeToken) env.RBEE_NODE_TOKEN = launch.nodeToken
  // The queen's own settings come from the flags above, not from what the CLI was given.
  delete env.RBEE_QUEEN_URL
  return { command: process.execPath, args, env }
}

/** A queen started in the background. */
export interface StartedQueen {
  pid: number
  logFile: string
  /** False when another queen answered first (a concurrent start won the race). */
  ours: boolean
}

export interface StartQueenOptions {
  launch: QueenLaunch
  client: QueenClient
  files: QueenFiles
  /** @default 60_000 */
  timeoutMs?: number
  signal?: AbortSignal
}

async function logTail(path: string, lines = 8): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '')
  return text.trimEnd().split('\n').slice(-lines).join('\n')
}

/**
 * Starts `queen-rbee` as a detached daemon (its own session, stdout and stderr appended to the
 * log file, pid in the pid file) and waits until it answers `/health` and its hives are up.
 * @throws RbeeError `RBEE_NOT_READY` with the log's last lines when it exits or does not answer in time.
 */
export async function startQueenDaemon(options: StartQueenOptions): Promise<StartedQueen> {
  const { launch, client, files } = options
  const cmd = queenCommand(launch)
  await mkdir(dirname(files.logFile), { recursive: true })
  await mkdir(dirname(files.pidFile), { recursive: true })
  const fd = openSync(files.logFile, 'a')
  let exited: { code: number | null; signal: string | null } | undefined
  let pid: number
  try {
    const child = spawn(cmd.command, cmd.args, {
      env: cmd.env,
      detached: true,
      stdio: ['ignore', fd, fd],
      cwd: launch.dataDir,
    })
    pid = await new Promise<number>((resolve, reject) => {
      child.once('spawn', () => resolve(child.pid!))
      child.once('error', (err) =>
        reject(
          new RbeeError('RBEE_NOT_READY', `cannot start queen-rbee: ${errorMessage(err)}`, { cause: err }),
        ),
      )
    })
    child.once('exit', (code, signal) => {
      exited = { code, signal }
    })
    child.unref()
  } finally {
    closeSync(fd)
  }
  await writeFile(files.pidFile, `${pid}\n`)
  try {
    await waitForQueen(client, {
      timeoutMs: options.timeoutMs ?? 60_000,
      signal: options.signal,
      gaveUp: () => exited !== undefined,
    })
    return { pid, logFile: files.logFile, ours: true }
  } catch (err) {
    if (exited) {
      // Another `rbee` may have started a queen on this port a moment earlier.
      const other = await client.health().catch(() => undefined)
      if (other) {
        if ((await readPidFile(files.pidFile)) === pid) await rm(files.pidFile, { force: true })
        return { pid: 0, logFile: files.logFile, ours: false }
      }
      await rm(files.pidFile, { force: true })
      const how = exited.signal ? `was killed by ${exited.signal}` : `exited with code ${exited.code}`
      throw new RbeeError(
        'RBEE_NOT_READY',
        `queen-rbee ${how} while starting; its log ${files.logFile} ends:\n${await logTail(files.logFile)}`,
      )
    }
    if (options.signal?.aborted) {
      process.kill(pid, 'SIGTERM')
      await rm(files.pidFile, { force: true })
      throw err
    }
    throw new RbeeError(
      'RBEE_NOT_READY',
      `queen-rbee (pid ${pid}) did not become healthy: ${errorMessage(err)}; see ${files.logFile}`,
      { cause: err },
    )
  }
}

/**
 * Waits until the queen answers and, when it runs a hive of its own, that hive is online (so
 * the first request finds it). Configured hives elsewhere are not waited for: they may be down.
 * @throws the last error after `timeoutMs`, or as soon as `gaveUp()` says there is no point.
 */
export async function waitForQueen(
  client: QueenClient,
  options: { timeoutMs: number; signal?: AbortSignal | undefined; gaveUp?: () => boolean },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs
  let wait = 50
  let last: unknown
  for (;;) {
    if (options.gaveUp?.()) throw last ?? new Error('the process exited')
    try {
      const info = await client.info(options.signal)
      if (info.local_hive === null || info.hives_online > 0) return
      last = new Error(`its local hive ${info.local_hive} is not online yet`)
    } catch (err) {
      if (options.signal?.aborted) throw options.signal.reason
      last = err
    }
    if (Date.now() >= deadline) throw last
    await delay(wait, options.signal)
    wait = Math.min(500, wait * 2)
  }
}

/** What `stopQueen` did. */
export interface StopResult {
  /** `not-running`: nothing answered and no live pid. */
  how: 'shutdown' | 'signal' | 'not-running'
  pid: number | undefined
}

/**
 * Stops the queen: `POST /v1/shutdown` (graceful: its hive stops its workers first), then
 * SIGTERM and finally SIGKILL to the pid in the pid file if it is still there.
 */
export async function stopQueen(options: {
  client: QueenClient
  files: QueenFiles
  /** @default 20_000 */
  graceMs?: number
}): Promise<StopResult> {
  const { client, files } = options
  const graceMs = options.graceMs ?? 20_000
  const pid = await runningQueenPid(files)
  let asked = false
  try {
    await client.shutdown()
    asked = true
  } catch (err) {
    if (pid === undefined) {
      if (!(err instanceof RbeeError) || err.code !== 'RBEE_UNREACHABLE') throw err
      await rm(files.pidFile, { force: true })
      return { how: 'not-running', pid: undefined }
    }
    // Refused (a wrong API key) or unreachable: the pid is ours, so a signal will do.
  }
  if (pid === undefined) {
    // A queen this data dir did not start: wait until it stops answering.
    const deadline = Date.now() + graceMs
    while (
      Date.now() < deadline &&
      (await client.health().then(
        () => true,
        () => false,
      ))
    )
      await delay(100)
    return { how: 'shutdown', pid: undefined }
  }
  let how: StopResult['how'] = 'shutdown'
  if (!asked || !(await waitForExit(pid, graceMs))) {
    how = 'signal'
    process.kill(pid, 'SIGTERM')
    if (!(await waitForExit(pid, graceMs))) {
      process.kill(pid, 'SIGKILL')
      await waitForExit(pid, 5000)
    }
  }
  await rm(files.pidFile, { force: true })
  return { how, pid }
}
