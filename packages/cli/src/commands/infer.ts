import { existsSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import { type JobOutcome, type QueenClient, throwIfFailed } from '@rbee/client'
import {
  BUILTIN_MODEL_ID,
  HfRefSchema,
  IdSchema,
  ModelEntrySchema,
  type Operation,
  OperationSchema,
  PriorityTextSchema,
} from '@rbee/contracts'
import { z } from 'zod'
import {
  boolFlag,
  type CommandSpec,
  listFlag,
  numberFlag,
  type ParsedArgs,
  stringFlag,
  UsageError,
} from '../cli/args.js'
import { type CliContext, EXIT } from '../cli/context.js'
import { NarrationView } from '../cli/progress-bar.js'
import { TIMEOUT_FLAG, timeoutDeadline } from '../cli/timeout-flag.js'
import { resolveSettings, type Settings } from '../config/settings.js'
import type { Command } from './command.js'
import { importFromThisMachine } from './local-import.js'
import { ensureQueen, lastData, openQueen, pickHive, runOperation } from './queen-access.js'
import { runWaitingInQueue } from './queue-wait.js'

const spec: CommandSpec = {
  name: 'infer',
  summary: 'Generate text with a model; starts a local queen first if none is running.',
  usage: '[options] PROMPT',
  description: [
    'Tokens go to stdout as they are generated; progress goes to stderr. With no queen at the',
    'queen URL (and the URL on this machine), queen-rbee is started in the background with its',
    'own local hive; it keeps running for the next request (stop it with `rbee queen stop`).',
    'PROMPT "-" reads the prompt from standard input. Ctrl+C cancels the job on the queen.',
    "When every slot for the model is busy the request waits in the queen's queue (its position",
    'is shown), and when that queue is full it waits for a place in it, until --timeout if given;',
    '--no-wait fails at once instead (exit code 75). Past --timeout: exit code 124.',
  ].join('\n'),
  positionals: [1, Number.POSITIVE_INFINITY],
  json: true,
  flags: {
    model: {
      type: 'string',
      short: 'm',
      value: 'MODEL',
      description:
        'catalog id (default: tiny), hf:org/repo[:file.gguf] (downloaded if missing), or a .gguf path',
    },
    'max-tokens': { type: 'string', value: 'N', description: 'most tokens to generate' },
    temperature: { type: 'string', value: 'T', description: 'sampling temperature, 0 = greedy (0..2)' },
    'top-p': { type: 'string', value: 'P', description: 'nucleus sampling (0..1]' },
    'top-k': { type: 'string', value: 'K', description: 'top-k sampling (0 = off)' },
    seed: { type: 'string', value: 'N', description: 'sampling seed, for repeatable output' },
    stop: { type: 'string', multiple: true, value: 'TEXT', description: 'stop at this text (up to 4 times)' },
    hive: { type: 'string', value: 'ALIAS', description: 'run on this hive' },
    priority: {
      type: 'string',
      value: 'P',
      description: "place in the model's queue: low, normal, high or -100..100 (default: the key's)",
    },
    ...TIMEOUT_FLAG,
    'no-wait': {
      type: 'boolean',
      description: "fail at once (exit code 75) when the queen's queue for the model is full",
    },
    'no-stream': { type: 'boolean', description: 'print the whole answer at the end instead of as it comes' },
    quiet: { type: 'boolean', short: 'q', description: 'no progress on stderr' },
  },
  examples: [
    'rbee infer "Why is the sky blue?"',
    'rbee infer -m hf:TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF "Hello" --max-tokens 64',
    'rbee infer -m ./models/my-model.Q4_K_M.gguf --temperature 0 --seed 1 "Once upon a time"',
    'rbee infer --timeout 30 "Quick answer please"   # exit code 124 after 30 s, waiting included',
    'rbee infer --no-wait "hi" || echo "busy: exit $?"   # 75 when the queue is full',
    'echo "Summarise: …" | rbee infer -',
    'rbee infer --json "hi" | jq -r \'select(.kind=="token").token.t\'',
  ],
}

const ModelListPayloadSchema = z.object({ models: z.array(ModelEntrySchema) })

/** True when a `--model` value names a file rather than a catalog entry. */
export function looksLikePath(model: string): boolean {
  if (model.startsWith('hf:')) return false
  return /\.gguf$/i.test(model) || model.startsWith('.') || model.startsWith('/') || model.startsWith('~')
}

/** `--priority` as the operation takes it: the number a name or integer stands for (else as given, to be refused). */
function priorityFlag(text: string | undefined): number | string | undefined {
  if (text === undefined) return undefined
  const parsed = PriorityTextSchema.safeParse(text)
  return parsed.success ? parsed.data : text
}

/** Builds the `infer` operation from the flags, checked with the contract schema. */
export function inferOperation(args: ParsedArgs, prompt: string, model: string): Operation {
  const num = (name: string, opts: Parameters<typeof numberFlag>[3]) => numberFlag(spec, args, name, opts)
  const stop = listFlag(args, 'stop')
  const op = {
    operation: 'infer' as const,
    prompt,
    model,
    max_tokens: num('max-tokens', { int: true, min: 1 }),
    temperature: num('temperature', { min: 0, max: 2 }),
    top_p: num('top-p', { min: 0, max: 1 }),
    top_k: num('top-k', { int: true, min: 0 }),
    seed: num('seed', { int: true, min: 0 }),
    stop: stop.length === 0 ? undefined : stop.length === 1 ? stop[0] : stop,
    hive_id: stringFlag(args, 'hive'),
    priority: priorityFlag(stringFlag(args, 'priority')),
  }
  const parsed = OperationSchema.safeParse(op)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    const field = String(issue.path[0] ?? 'prompt')
      .replace(/_/g, '-')
      .replace('hive-id', 'hive')
    throw new UsageError(spec.name, `--${field}: ${issue.message}`)
  }
  return parsed.data
}

/**
 * Turns `--model` into a catalog id: a `.gguf` path is imported, an `hf:` reference downloaded
 * when no hive has it yet.
 */
async function resolveModel(
  ctx: CliContext,
  client: QueenClient,
  settings: Settings,
  model: string,
  hive: string | undefined,
  view: NarrationView,
  quiet: boolean,
  deadlineAt: number | undefined,
): Promise<string | 'interrupted'> {
  const id = (out: JobOutcome | 'interrupted'): string | 'interrupted' =>
    out === 'interrupted' ? out : lastData(out, ModelEntrySchema, 'a catalog entry').id
  if (looksLikePath(model)) {
    const path = model.startsWith('~/')
      ? resolve(ctx.home, model.slice(2))
      : isAbsolute(model)
        ? model
        : resolve(ctx.cwd, model)
    // The hive reads the file: without --hive that is the queen's own hive, on this machine.
    const info = hive === undefined ? await client.info(ctx.signal) : undefined
    const target = hive ?? info?.local_hive ?? (await pickHive(client, undefined, ctx.signal))
    if (hive === undefined && !existsSync(path))
      throw new UsageError(spec.name, `--model: no such file: ${path}`)
    const op = { operation: 'model_import' as const, path, hive_id: target }
    return id(await importFromThisMachine(ctx, client, settings, op, view, { quiet }))
  }
  if (model.startsWith('hf:')) {
    // Look in the catalogs (a job error carries no code to tell "not found" from a failure).
    const hives =
      hive === undefined ? (await client.hives(ctx.signal)).filter((h) => h.online).map((h) => h.id) : [hive]
    for (const h of hives) {
      const out = await runOperation(ctx, client, { operation: 'model_list', hive_id: h }, view, {
        quiet: true,
      })
      if (out === 'interrupted') return out
      const have = lastData(out, ModelListPayloadSchema, 'a model list').models.find(
        (m) => m.available && (m.source === model || m.source.startsWith(`${model}:`)),
      )
      if (have) return have.id
    }
    const target = hive ?? (await pickHive(client, undefined, ctx.signal))
    return id(
      await runOperation(ctx, client, { operation: 'model_download', model, hive_id: target }, view, {
        quiet,
        deadlineAt,
      }),
    )
  }
  return model
}

/**
 * Checks the form of `--model` before anything starts (no queen is started for a typo).
 * @throws UsageError naming `--model`.
 */
function checkModelForm(model: string): void {
  if (looksLikePath(model)) return
  if (model.startsWith('hf:')) {
    if (!HfRefSchema.safeParse(model).success) {
      throw new UsageError(
        spec.name,
        `--model: '${model}' must look like hf:org/repo or hf:org/repo:file.gguf`,
      )
    }
    return
  }
  if (!IdSchema.safeParse(model).success) {
    throw new UsageError(
      spec.name,
      `--model: '${model}' is not a catalog id, an hf: reference or a .gguf path`,
    )
  }
}

async function run(ctx: CliContext, args: ParsedArgs): Promise<number> {
  const settings = resolveSettings(ctx, args)
  const json = boolFlag(args, 'json')
  const quiet = boolFlag(args, 'quiet')
  const noStream = boolFlag(args, 'no-stream')
  const hive = stringFlag(args, 'hive')
  const deadlineAt = timeoutDeadline(spec, args)
  let prompt = args.positionals.join(' ')
  if (prompt === '-') prompt = await ctx.readStdin()
  if (prompt.trim() === '') throw new UsageError(spec.name, 'the prompt is empty')
  // Check every flag before anything starts.
  inferOperation(args, prompt, BUILTIN_MODEL_ID)
  checkModelForm(stringFlag(args, 'model') ?? BUILTIN_MODEL_ID)

  const view = new NarrationView(ctx.out, { verbose: settings.verbose })
  const client = openQueen(settings)
  try {
    await ensureQueen(ctx, settings, client, view, { autoStart: true })
    const model = await resolveModel(
      ctx,
      client,
      settings,
      stringFlag(args, 'model') ?? BUILTIN_MODEL_ID,
      hive,
      view,
      quiet,
      deadlineAt,
    )
    if (model === 'interrupted') return EXIT.interrupted
    const op = inferOperation(args, prompt, model)

    let endedWithNewline = true
    const { job, follow } = await runWaitingInQueue(ctx, client, op, {
      view,
      wait: !boolFlag(args, 'no-wait'),
      deadlineAt,
      quiet: quiet || json,
      onEvent: (ev) => {
        if (json) {
          ctx.out.stdout.write(`${JSON.stringify(ev)}\n`)
          return
        }
        if (ev.kind === 'token' && !noStream) {
          ctx.out.stdout.write(ev.token.t)
          endedWithNewline = ev.token.t.endsWith('\n')
        }
      },
    })
    const { outcome, interrupted } = follow
    if (!json && noStream && outcome.text !== '') {
      ctx.out.stdout.write(outcome.text)
      endedWithNewline = outcome.text.endsWith('\n')
    }
    if (!json && !endedWithNewline) ctx.out.stdout.write('\n')
    if (interrupted) {
      view.line(`cancelled job ${job.jobId}`)
      return EXIT.interrupted
    }
    throwIfFailed(job.jobId, outcome)
    if (settings.verbose && !json) view.line(`${outcome.tokens} tokens (job ${job.jobId})`)
    return EXIT.ok
  } finally {
    await client.close()
  }
}

/** `rbee infer`. */
export const inferCommand: Command = { spec, run }
