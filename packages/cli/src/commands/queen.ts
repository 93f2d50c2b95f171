import { spawn } from 'node:child_process'
import { createReadStream } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { RbeeError } from '@rbee/common/base'
import { boolFlag, type CommandSpec, numberFlag, type ParsedArgs, stringFlag } from '../cli/args.js'
import { type CliContext, EXIT } from '../cli/context.js'
import { paint } from '../cli/output.js'
import { NarrationView } from '../cli/progress-bar.js'
import { formatAge } from '../cli/table.js'
import { resolveSettings, type Settings } from '../config/settings.js'
import {
  type QueenLaunch,
  queenCommand,
  queenFiles,
  runningQueenPid,
  startQueenDaemon,
  stopQueen,
} from '../queen/queen-daemon.js'
import { type ReloadLogLine, reloadQueen } from '../queen/queen-reload.js'
import type { Command } from './command.js'
import { isLocalUrl, openQueen } from './queen-access.js'

const SERVER_FLAGS: CommandSpec['flags'] = {
  host: { type: 'string', value: 'ADDR', description: "bind address (default: the queen URL's host)" },
  'node-token': {
    type: 'string',
    value: 'TOKEN',
    env: 'RBEE_NODE_TOKEN',
    description: 'shared secret hives and workers present (needed when bound beyond loopback)',
  },
  'hives-conf': { type: 'string', value: 'PATH', env: 'RBEE_HIVES_CONF', description: 'hives.conf to load' },
}

function launchFrom(ctx: CliContext, settings: Settings, args: ParsedArgs): QueenLaunch {
  return {
    url: settings.queenUrl,
    host: stringFlag(args, 'host'),
    dataDir: settings.dataDir,
    apiKey: settings.apiKey,
    adminKey: settings.adminKey,
    nodeToken: stringFlag(args, 'node-token'),
    hivesConf: stringFlag(args, 'hives-conf'),
    env: ctx.env,
  }
}

const startSpec: CommandSpec = {
  name: 'queen start',
  summary: 'Start queen-rbee: in the background (default) or in the foreground.',
  usage: '[options]',
  description: [
    'The queen serves the port of the queen URL. In the background its log goes to',
    '$RBEE_HOME/logs/queen.log and its pid to $RBEE_HOME/queen.pid. With no hives configured it',
    'runs a hive for this machine itself. Binding beyond loopback (--host 0.0.0.0) needs an API key',
    'and a node token.',
  ].join('\n'),
  flags: {
    foreground: { type: 'boolean', short: 'f', description: 'run in this terminal (Ctrl+C stops it)' },
    ...SERVER_FLAGS,
  },
  examples: [
    'rbee queen start',
    'rbee queen start --foreground',
    'RBEE_API_KEY=$(cat ~/.rbee-key) RBEE_NODE_TOKEN=$(cat ~/.rbee-node) \\\n    rbee queen start --host 0.0.0.0 --queen-url http://10.0.0.5:7833',
  ],
}

async function start(ctx: CliContext, args: ParsedArgs): Promise<number> {
  const settings = resolveSettings(ctx, args)
  const launch = launchFrom(ctx, settings, args)
  const client = openQueen(settings)
  const view = new NarrationView(ctx.out)
  try {
    const running = await client.health().catch(() => undefined)
    if (running) {
      view.line(`queen-rbee is already running at ${settings.queenUrl}`)
      return EXIT.ok
    }
    if (boolFlag(args, 'foreground')) {
      const cmd = queenCommand(launch)
      const child = spawn(cmd.command, cmd.args, { env: cmd.env, stdio: 'inherit' })
      const onAbort = (): void => void child.kill('SIGTERM')
      ctx.signal.addEventListener('abort', onAbort, { once: true })
      try {
        const code = await new Promise<number>((resolve) => {
          child.once('error', () => resolve(EXIT.failed))
          child.once('exit', (c, sig) =>
            resolve(c ?? (sig === 'SIGTERM' || sig === 'SIGINT' ? 0 : EXIT.failed)),
          )
        })
        return code
      } finally {
        ctx.signal.removeEventListener('abort', onAbort)
      }
    }
    if (!isLocalUrl(settings.queenUrl) && !launch.host) {
      view.line(`note: binding the queen to ${new URL(settings.queenUrl).hostname}, the queen URL's host`)
    }
    const files = queenFiles(settings.dataDir)
    const t0 = performance.now()
    const started = await startQueenDaemon({ launch, client, files, signal: ctx.signal })
    const took = ((performance.now() - t0) / 1000).toFixed(1)
    if (!started.ours) view.line(`another rbee started queen-rbee at the same time; it is running`)
    else
      view.line(
        `queen-rbee is running at ${settings.queenUrl} (pid ${started.pid}, ready in ${took}s; log: ${started.logFile})`,
      )
    return EXIT.ok
  } finally {
    await client.close()
  }
}

const stopSpec: CommandSpec = {
  name: 'queen stop',
  summary: 'Stop queen-rbee (and the workers of its local hive).',
  usage: '[options]',
  flags: {},
  examples: ['rbee queen stop', 'rbee queen stop --queen-url http://127.0.0.1:9000'],
}

async function stop(ctx: CliContext, args: ParsedArgs): Promise<number> {
  const settings = resolveSettings(ctx, args)
  const client = openQueen(settings)
  const view = new NarrationView(ctx.out)
  try {
    const result = await stopQueen({ client, files: queenFiles(settings.dataDir) })
    if (result.how === 'not-running') view.line(`queen-rbee is not running at ${settings.queenUrl}`)
    else view.line(`queen-rbee stopped${result.pid ? ` (pid ${result.pid})` : ''}`)
    return EXIT.ok
  } finally {
    await client.close()
  }
}

const reloadSpec: CommandSpec = {
  name: 'queen reload',
  summary:
    'Make the queen rbee started re-read hives.conf and its key files (SIGHUP), and show what changed.',
  usage: '[options]',
  description: [
    'Sends SIGHUP to the queen whose pid is in $RBEE_HOME/queen.pid and prints what it logs about',
    'the reload: hives added, removed or moved, key fingerprints added or removed. A file that',
    'does not parse is refused (the queen keeps what it had) and the command exits 1. A queen',
    'started some other way reloads on `kill -HUP PID` as well.',
  ].join('\n'),
  json: true,
  flags: {},
  examples: ['rbee queen reload', 'rbee queen reload --json'],
}

/** A reload log line as one line of text: its message and its fields (never secrets: the queen logs none). */
function reloadLine(c: boolean, l: ReloadLogLine): string {
  const fields = Object.entries(l.fields)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ')
  // pino levels: 50 is error.
  const msg = l.level >= 50 ? paint(c, 'red', l.msg) : l.msg
  return `  ${msg}${fields ? `  ${fields}` : ''}`
}

async function reload(ctx: CliContext, args: ParsedArgs): Promise<number> {
  const settings = resolveSettings(ctx, args)
  const files = queenFiles(settings.dataDir)
  const pid = await runningQueenPid(files)
  if (pid === undefined) {
    throw new RbeeError(
      'RBEE_NOT_FOUND',
      `no queen started by rbee runs out of ${settings.dataDir} (no live pid in ${files.pidFile}); a queen started otherwise reloads on: kill -HUP <its pid>`,
    )
  }
  const result = await reloadQueen({ pid, files, signal: ctx.signal })
  const refused = result.lines.some((l) => l.level >= 50)
  if (boolFlag(args, 'json')) {
    ctx.out.stdout.write(`${JSON.stringify({ pid, done: result.done, refused, log: result.lines })}\n`)
  } else {
    const c = ctx.out.color
    const head = !result.done
      ? `sent SIGHUP to queen-rbee (pid ${pid}); no end of the reload in ${files.logFile} yet: see rbee queen logs`
      : refused
        ? `queen-rbee (pid ${pid}) reloaded, refusing what did not parse (kept as it was):`
        : `queen-rbee (pid ${pid}) reloaded:`
    ctx.out.stdout.write(`${[head, ...result.lines.map((l) => reloadLine(c, l))].join('\n')}\n`)
  }
  return result.done && !refused ? EXIT.ok : EXIT.failed
}

const statusSpec: CommandSpec = {
  name: 'queen status',
  summary: 'Say whether queen-rbee is running, and how it is doing. Exit code 1 when it is not.',
  usage: '[options]',
  json: true,
  flags: {},
  examples: ['rbee queen status', 'rbee queen status --json'],
}

async function status(ctx: CliContext, args: ParsedArgs): Promise<number> {
  const settings = resolveSettings(ctx, args)
  const client = openQueen(settings)
  const files = queenFiles(settings.dataDir)
  const { out } = ctx
  try {
    const pid = await runningQueenPid(files)
    const info = await client.info(ctx.signal).catch((err: unknown) => {
      if (err instanceof RbeeError && err.code === 'RBEE_UNREACHABLE') return undefined
      throw err
    })
    if (boolFlag(args, 'json')) {
      out.stdout.write(
        `${JSON.stringify({ running: info !== undefined, url: settings.queenUrl, pid: pid ?? null, info: info ?? null })}\n`,
      )
      return info ? EXIT.ok : EXIT.failed
    }
    if (!info) {
      out.stdout.write(`queen-rbee: ${paint(out.color, 'red', 'not running')} at ${settings.queenUrl}\n`)
      return EXIT.failed
    }
    const lines = [
      `queen-rbee: ${paint(out.color, 'green', 'running')} at ${settings.queenUrl}${pid ? ` (pid ${pid})` : ''}`,
      `  version ${info.version} (protocol ${info.protocol}), up ${formatAge(info.uptime_s)}`,
      `  hives   ${info.hives_online}/${info.hives_total} online${info.local_hive ? ` (local hive: ${info.local_hive})` : ''}`,
      `  workers ${info.workers_ready}/${info.workers_total} ready`,
      `  auth    API key ${info.auth.api_keys ? 'required' : 'off'}, node token ${info.auth.node_token ? 'required' : 'off'}`,
    ]
    if (pid) lines.push(`  log     ${files.logFile}`)
    out.stdout.write(`${lines.join('\n')}\n`)
    return EXIT.ok
  } finally {
    await client.close()
  }
}

const logsSpec: CommandSpec = {
  name: 'queen logs',
  summary: 'Show the log of the queen rbee started in the background.',
  usage: '[options]',
  flags: {
    lines: { type: 'string', short: 'n', value: 'N', description: 'show the last N lines (default: 50)' },
    follow: { type: 'boolean', short: 'f', description: 'keep printing new lines (Ctrl+C to stop)' },
  },
  examples: ['rbee queen logs', 'rbee queen logs -n 200', 'rbee queen logs -f'],
}

async function logs(ctx: CliContext, args: ParsedArgs): Promise<number> {
  const settings = resolveSettings(ctx, args)
  const n = numberFlag(logsSpec, args, 'lines', { int: true, min: 0 }) ?? 50
  const { logFile } = queenFiles(settings.dataDir)
  let text: string
  try {
    text = await readFile(logFile, 'utf8')
  } catch {
    throw new RbeeError(
      'RBEE_NOT_FOUND',
      `no queen log at ${logFile} (the queen logs there when rbee starts it in the background)`,
    )
  }
  const lines = text.split('\n')
  if (lines.at(-1) === '') lines.pop()
  if (n > 0) ctx.out.stdout.write(`${lines.slice(-n).join('\n')}\n`)
  if (!boolFlag(args, 'follow')) return EXIT.ok
  await followFile(ctx, logFile, Buffer.byteLength(text))
  return EXIT.ok
}

/** Prints what is appended to `path` from `offset` on, until Ctrl+C. */
export async function followFile(ctx: CliContext, path: string, offset: number): Promise<void> {
  let pos = offset
  while (!ctx.signal.aborted) {
    const size = (await stat(path).catch(() => undefined))?.size ?? 0
    if (size < pos) pos = 0
    if (size > pos) {
      for await (const chunk of createReadStream(path, { start: pos, end: size - 1 }))
        ctx.out.stdout.write(chunk.toString())
      pos = size
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 250)
      ctx.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(t)
          resolve()
        },
        { once: true },
      )
    })
  }
}

/** `rbee queen start|stop|reload|status|logs`. */
export const queenCommands: Command[] = [
  { spec: startSpec, run: start },
  { spec: stopSpec, run: stop },
  { spec: reloadSpec, run: reload },
  { spec: statusSpec, run: status },
  { spec: logsSpec, run: logs },
]
