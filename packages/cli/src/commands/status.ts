import type { QueenClient } from '@rbee/client'
import { type FleetStatus, FleetStatusSchema, type HiveRecord } from '@rbee/contracts'
import { boolFlag, type CommandSpec, type ParsedArgs } from '../cli/args.js'
import { type CliContext, EXIT } from '../cli/context.js'
import { backendLabel, missedBackends } from '../cli/device-backends.js'
import { type Output, paint } from '../cli/output.js'
import { NarrationView } from '../cli/progress-bar.js'
import { formatAge, formatMb, renderTable } from '../cli/table.js'
import { resolveSettings } from '../config/settings.js'
import type { Command } from './command.js'
import { ensureQueen, openQueen } from './queen-access.js'

const spec: CommandSpec = {
  name: 'status',
  summary:
    'Show the fleet: hives (up/down, devices and their backend, free memory), backends a GPU cannot use and why, and workers (model, address, load).',
  usage: '[options]',
  json: true,
  flags: {
    watch: {
      type: 'boolean',
      short: 'w',
      description: "follow the queen's live stream and redraw (Ctrl+C to stop)",
    },
  },
  examples: [
    'rbee status',
    "rbee status --json | jq '.workers[] | {id, model_id, status}'",
    'rbee status --watch',
    'rbee status --watch --json   # one queen stream event per line',
  ],
}

/** The status tables, as `rbee status` prints them. */
export function renderStatus(out: Pick<Output, 'color'>, status: FleetStatus): string {
  const c = out.color
  const parts: string[] = [
    `${paint(c, 'bold', 'queen')} ${status.queen.url}  version ${status.queen.version} (protocol ${status.queen.protocol}), up ${formatAge(status.queen.uptime_s)}\n`,
  ]
  parts.push(
    `\n${paint(c, 'bold', `HIVES (${status.hives.filter((h) => h.online).length}/${status.hives.length} online)`)}\n`,
  )
  if (status.hives.length === 0) parts.push('  (none)\n')
  else {
    parts.push(
      renderTable(
        out,
        ['ID', 'STATE', 'URL', 'DEVICES', 'FREE MEMORY', 'WORKERS', 'VERSION'],
        status.hives.map((h) => [
          h.id,
          !h.compatible
            ? paint(c, 'red', 'incompatible')
            : // quiet: online, but nothing heard for a moment (new requests prefer other hives).
              h.online
              ? h.suspect
                ? paint(c, 'yellow', 'quiet')
                : paint(c, 'green', 'up')
              : paint(c, 'red', 'down'),
          h.url,
          h.devices.map((d) => `${d.id} ${backendLabel(d)}`).join(', ') || '-',
          h.devices.map((d) => `${formatMb(d.memory_free_mb)}/${formatMb(d.memory_total_mb)}`).join(', ') ||
            '-',
          String(h.workers) + (h.error && !h.online ? `  (${h.error})` : ''),
          hiveVersion(c, h, status.queen),
        ]),
      ),
    )
  }
  const missed = status.hives.flatMap((h) =>
    h.devices.flatMap((d) =>
      missedBackends(d).map((b) => [h.id, d.id, b.backend, b.reason ?? 'its build does not load']),
    ),
  )
  if (missed.length > 0) {
    parts.push(`\n${paint(c, 'bold', 'BACKENDS NOT USABLE')} (rbee hive status ALIAS lists them all)\n`)
    parts.push(renderTable(out, ['HIVE', 'DEVICE', 'BACKEND', 'WHY'], missed))
  }
  parts.push(`\n${paint(c, 'bold', `WORKERS (${status.workers.length})`)}\n`)
  if (status.workers.length === 0) parts.push('  (none)\n')
  else {
    parts.push(
      renderTable(
        out,
        ['ID', 'MODEL', 'HIVE', 'ADDRESS', 'STATUS', 'SLOTS', 'CPU', 'MEMORY', 'GPU'],
        status.workers.map((w) => [
          w.id,
          w.model_id,
          w.hive_id ?? '-',
          w.url.replace(/^https?:\/\//, ''),
          w.routable ? w.status : `${w.status} (unroutable)`,
          `${w.slots_busy}/${w.slots_total}`,
          `${w.cpu_pct.toFixed(0)}%`,
          formatMb(w.rss_mb),
          w.vram_mb > 0 ? `${formatMb(w.vram_mb)} ${w.gpu_util_pct.toFixed(0)}%` : '-',
        ]),
      ),
    )
  }
  return parts.join('')
}

/** A hive's release, marked when it differs from the queen's (compatible) or cannot work with it. */
function hiveVersion(c: boolean, h: HiveRecord, queen: FleetStatus['queen']): string {
  if (h.version === null) return '-'
  if (!h.compatible) return paint(c, 'red', `${h.version} (protocol ${h.protocol}, queen ${queen.protocol})`)
  if (h.version !== queen.version) return paint(c, 'yellow', `${h.version} (queen ${queen.version})`)
  return h.version
}

async function fetchStatus(client: QueenClient, signal: AbortSignal): Promise<FleetStatus> {
  // The client validated it already; parse again so --json is guaranteed to be a FleetStatus.
  return FleetStatusSchema.parse(await client.status(signal))
}

async function watch(ctx: CliContext, client: QueenClient, json: boolean): Promise<number> {
  const { out } = ctx
  let pending: Promise<void> | undefined
  let again = false
  const redraw = (): void => {
    if (pending) {
      again = true
      return
    }
    pending = (async () => {
      do {
        again = false
        try {
          const status = await fetchStatus(client, ctx.signal)
          const body = renderStatus(out, status)
          out.stdout.write(
            out.stdoutIsTTY ? `\u001b[H\u001b[2J${body}` : `--- ${new Date().toISOString()}\n${body}`,
          )
        } catch {
          // The next event retries; a dead queen shows as a disconnect below.
        }
      } while (again && !ctx.signal.aborted)
    })().finally(() => {
      pending = undefined
    })
  }
  let lastDraw = 0
  const sub = client.heartbeats({
    onEvent: (ev) => {
      if (json) {
        out.stdout.write(`${JSON.stringify(ev)}\n`)
        return
      }
      // Telemetry arrives every second per hive; changes (spawns, exits, hives up/down) at once.
      const now = Date.now()
      if (ev.type === 'telemetry' && now - lastDraw < 1000) return
      lastDraw = now
      redraw()
    },
    onConnect: () => {
      if (!json) redraw()
    },
    onDisconnect: (reason) =>
      out.stderr.write(`${paint(out.color, 'yellow', 'queen stream lost')}: ${reason}; reconnecting…\n`),
  })
  await new Promise<void>((resolve) => {
    if (ctx.signal.aborted) resolve()
    ctx.signal.addEventListener('abort', () => resolve(), { once: true })
  })
  await sub.close()
  await pending
  return EXIT.ok
}

async function run(ctx: CliContext, args: ParsedArgs): Promise<number> {
  const settings = resolveSettings(ctx, args)
  const client = openQueen(settings)
  const json = boolFlag(args, 'json')
  try {
    await ensureQueen(ctx, settings, client, new NarrationView(ctx.out), { autoStart: false })
    if (boolFlag(args, 'watch')) return await watch(ctx, client, json)
    const status = await fetchStatus(client, ctx.signal)
    ctx.out.stdout.write(json ? `${JSON.stringify(status, null, 2)}\n` : renderStatus(ctx.out, status))
    return EXIT.ok
  } finally {
    await client.close()
  }
}

/** `rbee status`. */
export const statusCommand: Command = { spec, run }
