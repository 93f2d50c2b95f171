import { RbeeError } from '@rbee/common/base'
import {
  BackendRequestSchema,
  BUILTIN_MODEL_ID,
  type DeviceSelection,
  DeviceSelectionSchema,
  FleetStatusSchema,
  HiveWorkerSchema,
  ModelRefSchema,
  type OperationOf,
  WorkerSpawnResultSchema,
} from '@rbee/contracts'
import {
  boolFlag,
  type CommandSpec,
  numberFlag,
  type ParsedArgs,
  stringFlag,
  UsageError,
} from '../cli/args.js'
import { type CliContext, EXIT } from '../cli/context.js'
import { paint } from '../cli/output.js'
import { NarrationView } from '../cli/progress-bar.js'
import { formatMb, renderTable } from '../cli/table.js'
import { TIMEOUT_FLAG, timeoutDeadline } from '../cli/timeout-flag.js'
import { resolveSettings } from '../config/settings.js'
import type { Command } from './command.js'
import { ensureQueen, lastData, openQueen, pickHive, runOperation } from './queen-access.js'

const HIVE_FLAG: CommandSpec['flags'] = {
  hive: { type: 'string', value: 'ALIAS', description: 'the hive (default: the only online hive)' },
}

const listSpec: CommandSpec = {
  name: 'worker list',
  summary: 'List the workers the queen knows.',
  usage: '[options]',
  json: true,
  flags: { hive: { type: 'string', value: 'ALIAS', description: "only this hive's workers" } },
  examples: ['rbee worker list', 'rbee worker list --hive gpu-box --json'],
}

async function list(ctx: CliContext, args: ParsedArgs): Promise<number> {
  const settings = resolveSettings(ctx, args)
  const client = openQueen(settings)
  try {
    await ensureQueen(ctx, settings, client, new NarrationView(ctx.out), { autoStart: false })
    const status = FleetStatusSchema.parse(await client.status(ctx.signal))
    const hive = stringFlag(args, 'hive')
    const workers = status.workers.filter((w) => hive === undefined || w.hive_id === hive)
    if (boolFlag(args, 'json')) {
      ctx.out.stdout.write(`${JSON.stringify(workers, null, 2)}\n`)
      return EXIT.ok
    }
    if (workers.length === 0) {
      ctx.out.stderr.write(
        `no workers${hive ? ` on ${hive}` : ''} (start one with: rbee worker spawn -m tiny)\n`,
      )
      return EXIT.ok
    }
    ctx.out.stdout.write(
      renderTable(
        ctx.out,
        ['ID', 'MODEL', 'HIVE', 'ADDRESS', 'DEVICE', 'STATUS', 'SLOTS', 'PID', 'MEMORY'],
        workers.map((w) => [
          w.id,
          w.model_id,
          w.hive_id ?? '-',
          w.url.replace(/^https?:\/\//, ''),
          w.device,
          w.status === 'unresponsive' ? paint(ctx.out.color, 'red', w.status) : w.status,
          `${w.slots_busy}/${w.slots_total}`,
          w.pid === null ? '-' : String(w.pid),
          formatMb(w.rss_mb),
        ]),
      ),
    )
    return EXIT.ok
  } finally {
    await client.close()
  }
}

const spawnSpec: CommandSpec = {
  name: 'worker spawn',
  summary: 'Start a worker for a model on a hive, and wait until it is ready.',
  usage: '[options]',
  json: true,
  flags: {
    model: {
      type: 'string',
      short: 'm',
      value: 'MODEL',
      description: 'catalog id or hf:org/repo[:file] (default: tiny)',
    },
    ...HIVE_FLAG,
    backend: { type: 'string', value: 'B', description: 'auto|cpu|cuda|vulkan|metal (default: auto)' },
    device: {
      type: 'string',
      value: 'N[,M…]',
      description:
        'GPU index (gpu:N), or several to split the model across (0,1) (default: the hive picks the GPU that fits best, else the CPU)',
    },
    slots: { type: 'string', value: 'N', description: 'parallel sequences' },
    'ctx-size': { type: 'string', value: 'N', description: 'context size in tokens' },
    ...TIMEOUT_FLAG,
  },
  examples: [
    'rbee worker spawn -m tiny',
    'rbee worker spawn -m llama-3.2-1b --hive gpu-box --backend cuda --device 1',
    'rbee worker spawn -m llama-3.1-70b --hive gpu-box --device 0,1   # split across two GPUs',
    'rbee worker spawn -m tiny --slots 4 --json',
  ],
}

/** `--device 1` or `--device 0,1`; undefined lets the hive pick. */
function deviceFlag(args: ParsedArgs): DeviceSelection | undefined {
  const raw = stringFlag(args, 'device')
  if (raw === undefined) return undefined
  const parts = raw.split(',').map((p) => p.trim())
  const list = parts.map(Number)
  const parsed = DeviceSelectionSchema.safeParse(
    parts.every((p) => /^\d+$/.test(p)) ? (list.length === 1 ? list[0] : list) : Number.NaN,
  )
  if (!parsed.success) {
    throw new UsageError(
      spawnSpec.name,
      `--device must be a GPU index (0-63) or distinct indexes like 0,1, not '${raw}'`,
    )
  }
  return parsed.data
}

async function spawnWorker(ctx: CliContext, args: ParsedArgs): Promise<number> {
  const settings = resolveSettings(ctx, args)
  const backend = BackendRequestSchema.safeParse(stringFlag(args, 'backend') ?? 'auto')
  if (!backend.success)
    throw new UsageError(spawnSpec.name, '--backend must be one of auto, cpu, cuda, vulkan, metal')
  const model = stringFlag(args, 'model') ?? BUILTIN_MODEL_ID
  if (!ModelRefSchema.safeParse(model).success) {
    throw new UsageError(spawnSpec.name, `--model: '${model}' is not a catalog id or hf:org/repo[:file.gguf]`)
  }
  const device = deviceFlag(args)
  const slots = numberFlag(spawnSpec, args, 'slots', { int: true, min: 1, max: 64 })
  const ctxSize = numberFlag(spawnSpec, args, 'ctx-size', { int: true, min: 128 })
  const deadlineAt = timeoutDeadline(spawnSpec, args)
  const client = openQueen(settings)
  const view = new NarrationView(ctx.out, { verbose: settings.verbose })
  try {
    await ensureQueen(ctx, settings, client, view, { autoStart: false })
    const hive = await pickHive(client, stringFlag(args, 'hive'), ctx.signal)
    const op: OperationOf<'worker_spawn'> = {
      operation: 'worker_spawn',
      hive_id: hive,
      model,
      worker: backend.data,
      ...(device === undefined ? {} : { device }),
      ...(slots === undefined ? {} : { slots }),
      ...(ctxSize === undefined ? {} : { ctx_size: ctxSize }),
    }
    const out = await runOperation(ctx, client, op, view, { deadlineAt })
    if (out === 'interrupted') return EXIT.interrupted
    const result = lastData(out, WorkerSpawnResultSchema, 'the spawned worker')
    ctx.out.stdout.write(
      boolFlag(args, 'json')
        ? `${JSON.stringify(result)}\n`
        : `${result.worker_id} ready at ${result.url} (hive ${hive}, pid ${result.pid})\n`,
    )
    return EXIT.ok
  } finally {
    await client.close()
  }
}

const stopSpec: CommandSpec = {
  name: 'worker stop',
  summary: 'Stop a worker (SIGTERM, then SIGKILL after a grace period).',
  usage: '[options] WORKER_ID',
  positionals: [1, 1],
  flags: { hive: { type: 'string', value: 'ALIAS', description: 'its hive (default: looked up)' } },
  examples: ['rbee worker stop w-3f9a1c', 'rbee worker stop w-3f9a1c --hive gpu-box'],
}

async function stopWorker(ctx: CliContext, args: ParsedArgs): Promise<number> {
  const settings = resolveSettings(ctx, args)
  const workerId = args.positionals[0]!
  const client = openQueen(settings)
  const view = new NarrationView(ctx.out, { verbose: settings.verbose })
  try {
    await ensureQueen(ctx, settings, client, view, { autoStart: false })
    let hive = stringFlag(args, 'hive')
    if (hive === undefined) {
      const status = await client.status(ctx.signal)
      const w = status.workers.find((x) => x.id === workerId)
      if (!w?.hive_id) {
        throw new RbeeError(
          'RBEE_WORKER_NOT_FOUND',
          `the queen knows no worker "${workerId}" (see rbee worker list)`,
        )
      }
      hive = w.hive_id
    }
    const out = await runOperation(
      ctx,
      client,
      { operation: 'worker_stop', hive_id: hive, worker_id: workerId },
      view,
    )
    if (out === 'interrupted') return EXIT.interrupted
    lastData(out, HiveWorkerSchema, 'the stopped worker')
    ctx.out.stdout.write(`${workerId} stopped\n`)
    return EXIT.ok
  } finally {
    await client.close()
  }
}

/** `rbee worker list|spawn|stop`. */
export const workerCommands: Command[] = [
  { spec: listSpec, run: list },
  { spec: spawnSpec, run: spawnWorker },
  { spec: stopSpec, run: stopWorker },
]
