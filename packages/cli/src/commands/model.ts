import { isAbsolute, resolve } from 'node:path'
import { RbeeError } from '@rbee/common/base'
import { IdSchema, type ModelEntry, ModelEntrySchema, ModelRefSchema } from '@rbee/contracts'
import { z } from 'zod'
import { boolFlag, type CommandSpec, type ParsedArgs, stringFlag, UsageError } from '../cli/args.js'
import { type CliContext, EXIT } from '../cli/context.js'
import { paint } from '../cli/output.js'
import { NarrationView } from '../cli/progress-bar.js'
import { formatBytes, formatMb, renderTable } from '../cli/table.js'
import { TIMEOUT_FLAG, timeoutDeadline } from '../cli/timeout-flag.js'
import { resolveSettings } from '../config/settings.js'
import type { Command } from './command.js'
import { importFromThisMachine } from './local-import.js'
import { ensureQueen, lastData, openQueen, pickHive, runOperation } from './queen-access.js'

const HIVE_FLAG: CommandSpec['flags'] = {
  hive: { type: 'string', value: 'ALIAS', description: 'the hive (default: the only online hive)' },
}

const ModelListPayloadSchema = z.object({ models: z.array(ModelEntrySchema) })

const listSpec: CommandSpec = {
  name: 'model list',
  summary: "List the models in the hives' catalogs.",
  usage: '[options]',
  json: true,
  flags: {
    hive: {
      type: 'string',
      value: 'ALIAS',
      description: "only this hive's catalog (default: every online hive)",
    },
  },
  examples: ['rbee model list', 'rbee model list --hive gpu-box --json'],
}

async function list(ctx: CliContext, args: ParsedArgs): Promise<number> {
  const settings = resolveSettings(ctx, args)
  const client = openQueen(settings)
  const view = new NarrationView(ctx.out, { verbose: settings.verbose })
  try {
    await ensureQueen(ctx, settings, client, view, { autoStart: false })
    const named = stringFlag(args, 'hive')
    const hives =
      named === undefined
        ? (await client.hives(ctx.signal)).filter((h) => h.online).map((h) => h.id)
        : [await pickHive(client, named, ctx.signal)]
    const rows: Array<{ hive: string; model: ModelEntry }> = []
    const rebuiltNotes: string[] = []
    for (const hive of hives) {
      const out = await runOperation(ctx, client, { operation: 'model_list', hive_id: hive }, view, {
        quiet: true,
      })
      if (out === 'interrupted') return EXIT.interrupted
      for (const model of lastData(out, ModelListPayloadSchema, 'a model list').models)
        rows.push({ hive, model })
      for (const n of out.narration) if (n.action === 'catalog_rebuilt') rebuiltNotes.push(n.human)
    }
    if (boolFlag(args, 'json')) {
      ctx.out.stdout.write(
        `${JSON.stringify(
          rows.map((r) => ({ hive_id: r.hive, ...r.model })),
          null,
          2,
        )}\n`,
      )
      return EXIT.ok
    }
    const c = ctx.out.color
    ctx.out.stdout.write(
      renderTable(
        ctx.out,
        ['HIVE', 'ID', 'ARCH', 'PARAMS', 'QUANT', 'SIZE', 'MEMORY/WORKER', 'SOURCE'],
        rows.map(({ hive, model: m }) => [
          hive,
          [
            m.id,
            ...(m.rebuilt ? [paint(c, 'yellow', '(rebuilt)')] : []),
            ...(m.available ? [] : [paint(c, 'red', '(unavailable)')]),
          ].join(' '),
          m.architecture,
          formatParams(m.parameter_count),
          m.quantization,
          formatBytes(m.size_bytes),
          `~${formatMb(m.memory_estimate_mb)}`,
          m.builtin ? 'built-in' : m.source,
        ]),
      ),
    )
    // A hive that rebuilt its catalog says where the old one went and what came back.
    for (const note of rebuiltNotes) ctx.out.stderr.write(`${paint(c, 'yellow', '(rebuilt)')} ${note}\n`)
    return EXIT.ok
  } finally {
    await client.close()
  }
}

function formatParams(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}B`
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`
  if (n >= 1e3) return `${(n / 1e3).toFixed(0)}K`
  return String(n)
}

const downloadSpec: CommandSpec = {
  name: 'model download',
  summary: 'Download a GGUF model from Hugging Face into a hive (resumable; Ctrl+C cancels).',
  usage: '[options] hf:ORG/REPO[:FILE.gguf]',
  description:
    'Without a file name the hive picks the largest quantization that fits the free memory of the\ndevice it would run on. The file comes from another hive that has it when one is online (the\nhub only if that fails), else from the hub. A split model (NAME-00001-of-0000N.gguf) is\ndownloaded whole. HF_TOKEN (on the hive) is used for gated repos; HF_ENDPOINT points the hive\nat a mirror.',
  positionals: [1, 1],
  json: true,
  flags: {
    ...HIVE_FLAG,
    ...TIMEOUT_FLAG,
    'no-peers': { type: 'boolean', description: 'download from the hub even when another hive has the file' },
  },
  examples: [
    'rbee model download hf:TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF',
    'rbee model download hf:bartowski/Llama-3.2-1B-Instruct-GGUF:Llama-3.2-1B-Instruct-Q4_K_M.gguf --hive gpu-box',
    'rbee model download hf:unsloth/Qwen3-235B-A22B-GGUF:Q4_K_M/Qwen3-235B-A22B-Q4_K_M-00001-of-00003.gguf --hive big-box',
  ],
}

function printEntry(ctx: CliContext, args: ParsedArgs, entry: ModelEntry, verb: string): void {
  ctx.out.stdout.write(
    boolFlag(args, 'json')
      ? `${JSON.stringify(entry)}\n`
      : `${verb} ${entry.id}: ${entry.architecture} ${entry.quantization}, ${formatBytes(entry.size_bytes)}, ~${formatMb(entry.memory_estimate_mb)} per worker\n`,
  )
}

async function download(ctx: CliContext, args: ParsedArgs): Promise<number> {
  const settings = resolveSettings(ctx, args)
  const model = args.positionals[0]!
  if (!model.startsWith('hf:') || !ModelRefSchema.safeParse(model).success) {
    throw new UsageError(downloadSpec.name, `'${model}' must look like hf:org/repo or hf:org/repo:file.gguf`)
  }
  const deadlineAt = timeoutDeadline(downloadSpec, args)
  const client = openQueen(settings)
  const view = new NarrationView(ctx.out, { verbose: settings.verbose })
  try {
    await ensureQueen(ctx, settings, client, view, { autoStart: false })
    const hive = await pickHive(client, stringFlag(args, 'hive'), ctx.signal)
    const sources = boolFlag(args, 'no-peers') ? { sources: [] } : {}
    const out = await runOperation(
      ctx,
      client,
      { operation: 'model_download', hive_id: hive, model, ...sources },
      view,
      {
        deadlineAt,
      },
    )
    if (out === 'interrupted') {
      view.line('download cancelled (a later download of the same file resumes where this one stopped)')
      return EXIT.interrupted
    }
    printEntry(ctx, args, lastData(out, ModelEntrySchema, 'a catalog entry'), 'downloaded')
    return EXIT.ok
  } finally {
    await client.close()
  }
}

const importSpec: CommandSpec = {
  name: 'model import',
  summary: "Register a .gguf file that is already on the hive's machine.",
  usage: '[options] PATH',
  description: [
    'The hive reads the file: with --hive, PATH is a path on that machine. A hive imports only from',
    'its import dirs ($RBEE_HOME/import, its models dir, and --import-dir DIR); a file elsewhere on',
    "this machine is hard-linked (or, on another file system, copied) into the hive's import dir first.",
  ].join('\n'),
  positionals: [1, 1],
  json: true,
  flags: {
    ...HIVE_FLAG,
    id: { type: 'string', value: 'ID', description: 'catalog id (default: from the file name)' },
  },
  examples: [
    'rbee model import ./qwen2.5-0.5b-instruct-q4_k_m.gguf',
    'rbee model import /srv/models/llama.gguf --hive gpu-box --id llama',
  ],
}

async function importModel(ctx: CliContext, args: ParsedArgs): Promise<number> {
  const settings = resolveSettings(ctx, args)
  const raw = args.positionals[0]!
  const id = stringFlag(args, 'id')
  if (id !== undefined && !IdSchema.safeParse(id).success) {
    throw new UsageError(importSpec.name, `--id: '${id}' must use only A-Z a-z 0-9 . _ : @ -`)
  }
  const path = raw.startsWith('~/')
    ? resolve(ctx.home, raw.slice(2))
    : isAbsolute(raw)
      ? raw
      : resolve(ctx.cwd, raw)
  const client = openQueen(settings)
  const view = new NarrationView(ctx.out, { verbose: settings.verbose })
  try {
    await ensureQueen(ctx, settings, client, view, { autoStart: false })
    const hive = await pickHive(client, stringFlag(args, 'hive'), ctx.signal)
    const op = { operation: 'model_import' as const, hive_id: hive, path, ...(id ? { id } : {}) }
    const out = await importFromThisMachine(ctx, client, settings, op, view)
    if (out === 'interrupted') return EXIT.interrupted
    printEntry(ctx, args, lastData(out, ModelEntrySchema, 'a catalog entry'), 'imported')
    return EXIT.ok
  } finally {
    await client.close()
  }
}

const rmSpec: CommandSpec = {
  name: 'model rm',
  summary: "Remove a model from a hive's catalog (and delete the file if the hive downloaded it).",
  usage: '[options] MODEL',
  positionals: [1, 1],
  flags: { ...HIVE_FLAG },
  examples: ['rbee model rm tinyllama-1.1b-chat-v1.0.Q4_K_M', 'rbee model rm my-model --hive gpu-box'],
}

async function rm(ctx: CliContext, args: ParsedArgs): Promise<number> {
  const settings = resolveSettings(ctx, args)
  const model = args.positionals[0]!
  if (!ModelRefSchema.safeParse(model).success) {
    throw new UsageError(rmSpec.name, `'${model}' is not a catalog id or hf: reference`)
  }
  const client = openQueen(settings)
  const view = new NarrationView(ctx.out, { verbose: settings.verbose })
  try {
    await ensureQueen(ctx, settings, client, view, { autoStart: false })
    const hive = await pickHive(client, stringFlag(args, 'hive'), ctx.signal)
    const out = await runOperation(ctx, client, { operation: 'model_delete', hive_id: hive, model }, view, {
      quiet: true,
    })
    if (out === 'interrupted') return EXIT.interrupted
    const deleted = lastData(
      out,
      z.object({ id: z.string(), file_removed: z.boolean() }),
      'a deletion result',
    )
    ctx.out.stdout.write(
      `removed ${deleted.id}${deleted.file_removed ? ' and its file' : ' (its file was left in place)'}\n`,
    )
    return EXIT.ok
  } catch (err) {
    if (err instanceof RbeeError && err.code === 'RBEE_MODEL_IN_USE') {
      throw new RbeeError(err.code, `${err.message} (rbee worker stop ID)`, { cause: err })
    }
    throw err
  } finally {
    await client.close()
  }
}

/** `rbee model list|download|import|rm`. */
export const modelCommands: Command[] = [
  { spec: listSpec, run: list },
  { spec: downloadSpec, run: download },
  { spec: importSpec, run: importModel },
  { spec: rmSpec, run: rm },
]
