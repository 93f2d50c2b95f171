import { hiveConfUrl } from '@rbee/client'
import { RbeeError } from '@rbee/common/base'
import type { HiveRecord } from '@rbee/contracts'
import { boolFlag, type CommandSpec, numberFlag, type ParsedArgs, stringFlag } from '../cli/args.js'
import { type CliContext, EXIT } from '../cli/context.js'
import { deviceLines } from '../cli/device-backends.js'
import { paint } from '../cli/output.js'
import { NarrationView } from '../cli/progress-bar.js'
import { formatAge, renderTable } from '../cli/table.js'
import { resolveSettings, type Settings } from '../config/settings.js'
import { configuredHives, hiveTarget } from '../hosts/hive-hosts.js'
import { existingLayout, installHive, uninstallHive } from '../install/hive-install.js'
import { queenUrlForHive } from '../install/queen-address.js'
import {
  logsCommandText,
  processStatusText,
  startCommandText,
  stopCommandText,
} from '../install/remote-scripts.js'
import { SshRunner } from '../ssh/ssh-runner.js'
import { describeTarget } from '../ssh/ssh-target.js'
import { VERSION } from '../version.js'
import type { Command } from './command.js'
import { ensureQueen, openQueen, queenUnreachable } from './queen-access.js'

/** The queen's hives, or undefined when no queen answers. */
async function queenHives(settings: Settings, signal: AbortSignal): Promise<HiveRecord[] | undefined> {
  const client = openQueen(settings)
  try {
    return await client.hives(signal)
  } catch (err) {
    if (err instanceof RbeeError && err.code === 'RBEE_UNREACHABLE') return undefined
    throw err
  } finally {
    await client.close()
  }
}

const listSpec: CommandSpec = {
  name: 'hive list',
  summary: 'List hives: those in hives.conf and those the queen knows, with their state.',
  usage: '[options]',
  json: true,
  flags: {},
  examples: ['rbee hive list', 'rbee hive list --json'],
}

async function list(ctx: CliContext, args: ParsedArgs): Promise<number> {
  const settings = resolveSettings(ctx, args)
  const conf = await configuredHives(settings)
  const known = await queenHives(settings, ctx.signal)
  const ids = [...new Set([...conf.map((c) => c.id), ...(known ?? []).map((h) => h.id)])]
  const rows = ids.map((id) => {
    const c = conf.find((x) => x.id === id)
    const q = known?.find((x) => x.id === id)
    return {
      id,
      in_hives_conf: c !== undefined,
      ssh: c ? `${c.user ? `${c.user}@` : ''}${c.hostname}${c.sshPort === 22 ? '' : `:${c.sshPort}`}` : null,
      url: q?.url ?? (c ? hiveConfUrl(c) : null),
      state:
        known === undefined
          ? 'unknown'
          : q === undefined
            ? 'not registered'
            : q.online
              ? 'online'
              : 'offline',
      source: q?.source ?? null,
      workers: q?.workers ?? null,
    }
  })
  if (boolFlag(args, 'json')) {
    ctx.out.stdout.write(`${JSON.stringify(rows, null, 2)}\n`)
    return EXIT.ok
  }
  if (rows.length === 0) {
    ctx.out.stderr.write(`no hives: add one to ${settings.hivesConf} (see rbee hive install --help)\n`)
    return EXIT.ok
  }
  const c = ctx.out.color
  ctx.out.stdout.write(
    renderTable(
      ctx.out,
      ['ALIAS', 'SSH', 'URL', 'STATE', 'WORKERS', 'SOURCE'],
      rows.map((r) => [
        r.id,
        r.ssh ?? '-',
        r.url ?? '-',
        r.state === 'online'
          ? paint(c, 'green', r.state)
          : r.state === 'offline'
            ? paint(c, 'red', r.state)
            : r.state,
        r.workers === null ? '-' : String(r.workers),
        r.in_hives_conf ? 'hives.conf' : (r.source ?? '-'),
      ]),
    ),
  )
  if (known === undefined)
    ctx.out.stderr.write(`(no queen answers at ${settings.queenUrl}: states unknown)\n`)
  return EXIT.ok
}

const statusSpec: CommandSpec = {
  name: 'hive status',
  summary:
    'Show a hive as the queen sees it (devices with their backend and why others do not load, memory, workers) and whether its process runs.',
  usage: '[options] [ALIAS]',
  positionals: [0, 1],
  json: true,
  flags: {},
  examples: ['rbee hive status', 'rbee hive status gpu-box', 'rbee hive status gpu-box --json'],
}

async function status(ctx: CliContext, args: ParsedArgs): Promise<number> {
  const settings = resolveSettings(ctx, args)
  const alias = args.positionals[0]
  const client = openQueen(settings)
  try {
    await ensureQueen(ctx, settings, client, new NarrationView(ctx.out), { autoStart: false })
    const hives = (await client.hives(ctx.signal)).filter((h) => alias === undefined || h.id === alias)
    let processState: string | undefined
    if (alias !== undefined && (await configuredHives(settings)).some((c) => c.id === alias)) {
      const { target } = await hiveTarget(settings, alias)
      const ssh = new SshRunner(target)
      processState = await existingLayout(ssh, ctx.signal)
        .then((l) => ssh.script(processStatusText(l), { timeoutMs: 30_000, signal: ctx.signal }))
        .then(
          (r) => r.stdout.trim(),
          (err: unknown) => `unknown (${(err as Error).message})`,
        )
    }
    if (alias !== undefined && hives.length === 0 && processState === undefined) {
      throw new RbeeError(
        'RBEE_HIVE_NOT_FOUND',
        `neither the queen nor hives.conf knows a hive "${alias}" (see rbee hive list)`,
      )
    }
    if (boolFlag(args, 'json')) {
      ctx.out.stdout.write(
        `${JSON.stringify(alias === undefined ? hives : { hive: hives[0] ?? null, process: processState ?? null }, null, 2)}\n`,
      )
      return EXIT.ok
    }
    const c = ctx.out.color
    for (const h of hives) {
      const lines = [
        `${paint(c, 'bold', h.id)}: ${h.online ? paint(c, 'green', 'online') : paint(c, 'red', 'offline')} at ${h.url} (${h.source})`,
        `  last seen ${h.last_seen ? `${formatAge((Date.now() - Date.parse(h.last_seen)) / 1000)} ago` : 'never'}, ${h.workers} worker(s)`,
        ...deviceLines(c, h.devices),
      ]
      if (h.error) lines.push(`  error: ${h.error}`)
      ctx.out.stdout.write(`${lines.join('\n')}\n`)
    }
    if (processState !== undefined) {
      const m = /^RBEE_(RUNNING|STOPPED|NOT_INSTALLED)\s*(\d*)\s*(\w*)/.exec(processState)
      const text = !m
        ? processState
        : m[1] === 'RUNNING'
          ? `running (pid ${m[2]}, ${m[3]})`
          : m[1] === 'STOPPED'
            ? `stopped (${m[3]})`
            : 'not installed by rbee'
      ctx.out.stdout.write(`  process: ${text}\n`)
    }
    return EXIT.ok
  } finally {
    await client.close()
  }
}

const INSTALL_DESCRIPTION = `Copies rbee-hive (and the worker) to ALIAS over the system ssh and scp, as a self-contained
bundle unpacked under BinaryPath (default ~/.local/lib/rbee), writes its settings, starts it
(a systemd user unit when systemd runs there, else in the background with a pid file) pointed
at the queen, and waits until the queen sees it online. ALIAS comes from hives.conf (Host,
HostName, User, Port, HivePort, BinaryPath) and ~/.ssh/config. The machine needs Node.js 20+
and your SSH key. Extra ssh options: RBEE_SSH_OPTIONS (e.g. "-i ~/.ssh/rbee -o ConnectTimeout=5").`

const installSpec: CommandSpec = {
  name: 'hive install',
  summary: 'Install rbee-hive on another machine over SSH and start it.',
  usage: '[options] ALIAS',
  description: INSTALL_DESCRIPTION,
  positionals: [1, 1],
  flags: {
    'node-token': {
      type: 'string',
      value: 'TOKEN',
      env: 'RBEE_NODE_TOKEN',
      description: 'the node token the queen was started with (required)',
    },
    'queen-url-for-hives': {
      type: 'string',
      value: 'URL',
      env: 'RBEE_QUEEN_URL_FOR_HIVES',
      description:
        "the queen's URL as the hive's machine reaches it (default: the queen URL, or this machine's address toward it)",
    },
    'timeout-s': {
      type: 'string',
      value: 'S',
      description: 'how long to wait for the queen to see the hive (default: 90)',
    },
  },
  examples: [
    'rbee hive install gpu-box',
    'RBEE_SSH_OPTIONS="-i ~/.ssh/lab" rbee hive install gpu-box --queen-url-for-hives http://10.0.0.5:7833',
  ],
}

async function install(ctx: CliContext, args: ParsedArgs): Promise<number> {
  const settings = resolveSettings(ctx, args)
  const alias = args.positionals[0]!
  const timeoutS = numberFlag(installSpec, args, 'timeout-s', { min: 1 }) ?? 90
  const nodeToken = stringFlag(args, 'node-token')
  const view = new NarrationView(ctx.out, { verbose: settings.verbose })
  const client = openQueen(settings)
  try {
    const info = await client.info(ctx.signal).catch((err: unknown) => {
      if (err instanceof RbeeError && err.code === 'RBEE_UNREACHABLE') throw queenUnreachable(settings, err)
      throw err
    })
    if (!nodeToken) {
      throw new RbeeError(
        'RBEE_CONFIG',
        `hive install needs the queen's node token (--node-token or RBEE_NODE_TOKEN): a hive reachable over the network only accepts callers that present it${info.auth.node_token ? '' : ', and this queen runs without one: restart it with --node-token and a --host other machines reach'}`,
      )
    }
    const { target, fromConf } = await hiveTarget(settings, alias)
    if (!fromConf)
      view.line(
        `${alias} is not in ${settings.hivesConf}: using ~/.ssh/config and defaults (hive port ${target.hivePort})`,
      )
    const queenAddress = await queenUrlForHive(
      stringFlag(args, 'queen-url-for-hives'),
      [settings.queenUrl, info.url],
      target.hostname,
    )
    if (queenAddress.how === 'derived') {
      view.line(
        `the queen URL is a loopback address: ${alias} will use ${queenAddress.url} (this machine's address toward ${target.hostname}); the queen must listen there (queen start --host 0.0.0.0)`,
      )
    }
    const t0 = performance.now()
    const result = await installHive({
      ssh: new SshRunner(target),
      queen: client,
      queenUrlForHive: queenAddress.url,
      nodeToken,
      version: VERSION,
      onStep: (line) => view.line(line),
      signal: ctx.signal,
      onlineTimeoutMs: timeoutS * 1000,
    })
    ctx.out.stdout.write(
      `hive ${result.hiveId} is online at ${result.hiveUrl} (installed in ${result.layout.root} on ${describeTarget(target)}, ${result.mode === 'systemd' ? 'systemd user unit rbee-hive.service' : 'started in the background'}; ${((performance.now() - t0) / 1000).toFixed(1)}s)\n`,
    )
    return EXIT.ok
  } finally {
    await client.close()
  }
}

const uninstallSpec: CommandSpec = {
  name: 'hive uninstall',
  summary: 'Stop rbee-hive on a machine and remove what rbee hive install put there.',
  usage: '[options] ALIAS',
  positionals: [1, 1],
  flags: { purge: { type: 'boolean', description: 'also delete its data dir (downloaded models, catalog)' } },
  examples: ['rbee hive uninstall gpu-box', 'rbee hive uninstall gpu-box --purge'],
}

async function uninstall(ctx: CliContext, args: ParsedArgs): Promise<number> {
  const settings = resolveSettings(ctx, args)
  const alias = args.positionals[0]!
  const { target } = await hiveTarget(settings, alias)
  const said = await uninstallHive(new SshRunner(target), boolFlag(args, 'purge'), ctx.signal)
  new NarrationView(ctx.out).line(said)
  ctx.out.stdout.write(`hive ${alias} uninstalled from ${describeTarget(target)}\n`)
  return EXIT.ok
}

function remoteControl(name: 'start' | 'stop'): Command {
  const spec: CommandSpec = {
    name: `hive ${name}`,
    summary: `${name === 'start' ? 'Start' : 'Stop'} an installed rbee-hive on its machine (over SSH).`,
    usage: '[options] ALIAS',
    positionals: [1, 1],
    flags: {},
    examples: [`rbee hive ${name} gpu-box`],
  }
  return {
    spec,
    run: async (ctx, args) => {
      const settings = resolveSettings(ctx, args)
      const alias = args.positionals[0]!
      const { target } = await hiveTarget(settings, alias)
      const ssh = new SshRunner(target)
      const layout = await existingLayout(ssh, ctx.signal)
      const r = await ssh.script(name === 'start' ? startCommandText(layout) : stopCommandText(layout), {
        timeoutMs: 60_000,
        signal: ctx.signal,
      })
      if (r.stdout.includes('RBEE_NOT_INSTALLED')) {
        throw new RbeeError(
          'RBEE_NOT_FOUND',
          `rbee-hive is not installed on ${alias} under ${layout.root}: run rbee hive install ${alias}`,
        )
      }
      if (r.code !== 0)
        throw new RbeeError(
          'RBEE_UPSTREAM',
          `hive ${name} on ${alias} failed: ${r.stderr.trim() || r.stdout.trim()}`,
        )
      ctx.out.stdout.write(`${alias}: ${r.stdout.trim()}\n`)
      return EXIT.ok
    },
  }
}

const logsSpec: CommandSpec = {
  name: 'hive logs',
  summary: "Show an installed hive's log (its journal under systemd, else its log file).",
  usage: '[options] ALIAS',
  positionals: [1, 1],
  flags: {
    lines: { type: 'string', short: 'n', value: 'N', description: 'show the last N lines (default: 50)' },
    follow: { type: 'boolean', short: 'f', description: 'keep printing new lines (Ctrl+C to stop)' },
  },
  examples: ['rbee hive logs gpu-box', 'rbee hive logs gpu-box -f'],
}

async function logs(ctx: CliContext, args: ParsedArgs): Promise<number> {
  const settings = resolveSettings(ctx, args)
  const alias = args.positionals[0]!
  const n = numberFlag(logsSpec, args, 'lines', { int: true, min: 0 }) ?? 50
  const follow = boolFlag(args, 'follow')
  const { target } = await hiveTarget(settings, alias)
  const ssh = new SshRunner(target)
  const layout = await existingLayout(ssh, ctx.signal)
  const r = await ssh.script(logsCommandText(layout, n, follow), {
    timeoutMs: follow ? 2 ** 31 - 1 : 60_000,
    signal: ctx.signal,
    onStdout: (chunk) => {
      if (!chunk.includes('RBEE_NOT_INSTALLED')) ctx.out.stdout.write(chunk)
    },
  })
  if (r.stdout.includes('RBEE_NOT_INSTALLED')) {
    throw new RbeeError('RBEE_NOT_FOUND', `rbee-hive is not installed on ${alias} under ${layout.root}`)
  }
  return EXIT.ok
}

/** `rbee hive list|status|start|stop|install|uninstall|logs`. */
export const hiveCommands: Command[] = [
  { spec: listSpec, run: list },
  { spec: statusSpec, run: status },
  remoteControl('start'),
  remoteControl('stop'),
  { spec: installSpec, run: install },
  { spec: uninstallSpec, run: uninstall },
  { spec: logsSpec, run: logs },
]
