import { type JobOutcome, type JobStream, QueenClient, throwIfFailed } from '@rbee/client'
import { deadlineExceeded, isLoopbackHost, RbeeError, remainingSeconds } from '@rbee/common/base'
import type { JobStreamEvent, Operation } from '@rbee/contracts'
import type { z } from 'zod'
import type { CliContext } from '../cli/context.js'
import type { NarrationView } from '../cli/progress-bar.js'
import type { Settings } from '../config/settings.js'
import { queenFiles, startQueenDaemon } from '../queen/queen-daemon.js'

/** A client of the configured queen. Close it when done. */
export function openQueen(settings: Settings): QueenClient {
  return new QueenClient({
    baseUrl: settings.queenUrl,
    token: settings.apiKey,
    adminToken: settings.adminKey,
    streamIdleTimeoutMs: settings.streamTimeoutMs,
  })
}

/** True when the URL names this machine (a queen there can be started by the CLI). */
export function isLocalUrl(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '')
  return host === 'localhost' || isLoopbackHost(host)
}

/**
 * Makes sure a queen answers at the configured URL. With `autoStart`, a missing local queen is
 * started in the background (the zero-config path of `rbee infer`).
 * @throws RbeeError `RBEE_UNREACHABLE` with what to do when none answers and none may be started,
 * `RBEE_CONFIG` when something other than a queen answers there.
 */
export async function ensureQueen(
  ctx: CliContext,
  settings: Settings,
  client: QueenClient,
  view: NarrationView,
  options: { autoStart: boolean },
): Promise<void> {
  try {
    const health = await client.health(ctx.signal)
    if (health.service !== 'queen-rbee') {
      throw new RbeeError(
        'RBEE_CONFIG',
        `${settings.queenUrl} is ${health.service}, not queen-rbee: point --queen-url (RBEE_QUEEN_URL) at the queen`,
      )
    }
    return
  } catch (err) {
    if (!(err instanceof RbeeError) || err.code !== 'RBEE_UNREACHABLE') throw err
    if (!options.autoStart) throw queenUnreachable(settings, err)
    if (!isLocalUrl(settings.queenUrl)) {
      throw new RbeeError(
        'RBEE_UNREACHABLE',
        `no queen answers at ${settings.queenUrl}, and rbee only starts one on this machine: start queen-rbee there, or unset RBEE_QUEEN_URL`,
        { cause: err },
      )
    }
  }
  const files = queenFiles(settings.dataDir)
  view.line(`no queen at ${settings.queenUrl}: starting queen-rbee in the background (log: ${files.logFile})`)
  const t0 = performance.now()
  const started = await startQueenDaemon({
    launch: {
      url: settings.queenUrl,
      dataDir: settings.dataDir,
      apiKey: settings.apiKey,
      adminKey: settings.adminKey,
      nodeToken: settings.nodeToken,
      env: ctx.env,
    },
    client,
    files,
    signal: ctx.signal,
  })
  const took = ((performance.now() - t0) / 1000).toFixed(1)
  view.line(
    started.ours
      ? `queen-rbee is up (pid ${started.pid}) after ${took}s; stop it with: rbee queen stop`
      : `another rbee started queen-rbee at the same time; using it`,
  )
}

/** The error for a queen that does not answer, saying how to start one. */
export function queenUnreachable(settings: Settings, cause: unknown): RbeeError {
  const hint = isLocalUrl(settings.queenUrl)
    ? 'start it with: rbee queen start'
    : 'is it running there, and is the URL right (--queen-url, RBEE_QUEEN_URL)?'
  return new RbeeError('RBEE_UNREACHABLE', `no queen answers at ${settings.queenUrl}: ${hint}`, { cause })
}

/** How following a job ended. */
export interface FollowResult {
  outcome: JobOutcome
  /** Ctrl+C was pressed (the job was cancelled on the server). */
  interrupted: boolean
}

/**
 * Follows a job to its end: narration to the view, every event to `onEvent`. Ctrl+C cancels
 * the job on the server (`DELETE /v1/jobs/:id`) and waits briefly for its `[CANCELLED]` end.
 */
export async function followJob(
  ctx: CliContext,
  job: JobStream,
  hard: AbortController,
  options: { view: NarrationView; onEvent?: (ev: JobStreamEvent) => void; quietNarration?: boolean },
): Promise<FollowResult> {
  let interrupted = false
  let timer: NodeJS.Timeout | undefined
  const onAbort = (): void => {
    interrupted = true
    options.view.line(`cancelling job ${job.jobId}…`)
    job.cancel().catch(() => hard.abort(new Error('cancel failed')))
    // The server ends the stream with [CANCELLED]; do not wait for it forever.
    timer = setTimeout(() => hard.abort(new Error('no [CANCELLED] in time')), 5000)
  }
  if (ctx.signal.aborted) onAbort()
  else ctx.signal.addEventListener('abort', onAbort, { once: true })
  try {
    const outcome = await job.collect((ev) => {
      if (ev.kind === 'narration' && !options.quietNarration) options.view.show(ev.narration)
      options.onEvent?.(ev)
    })
    options.view.endBar()
    return { outcome, interrupted }
  } catch (err) {
    options.view.endBar()
    if (interrupted) {
      return {
        outcome: { outcome: 'cancelled', message: null, text: '', tokens: 0, data: [], narration: [] },
        interrupted,
      }
    }
    throw err
  } finally {
    clearTimeout(timer)
    ctx.signal.removeEventListener('abort', onAbort)
  }
}

/**
 * The operation with what is left of `deadlineAt` (a `--timeout`) as its `timeout`: the queen
 * and the hive stop the job there.
 * @throws RbeeError `RBEE_DEADLINE_EXCEEDED` when no time is left.
 */
export function withDeadline<O extends Operation>(op: O, deadlineAt: number | undefined): O {
  if (deadlineAt === undefined) return op
  if (Date.now() >= deadlineAt) throw deadlineExceeded(`no time was left for ${op.operation}`)
  return { ...op, timeout: remainingSeconds(deadlineAt) }
}

/**
 * Starts an operation on the queen and follows it to its end, narration shown.
 * @returns the outcome, or `'interrupted'` after Ctrl+C cancelled it.
 * @throws RbeeError the job's error when it failed (`RBEE_DEADLINE_EXCEEDED` past `deadlineAt`).
 */
export async function runOperation(
  ctx: CliContext,
  client: QueenClient,
  op: Operation,
  view: NarrationView,
  options: { quiet?: boolean; deadlineAt?: number | undefined } = {},
): Promise<JobOutcome | 'interrupted'> {
  const hard = new AbortController()
  const job = await client.run(withDeadline(op, options.deadlineAt), { signal: hard.signal })
  const { outcome, interrupted } = await followJob(ctx, job, hard, { view, quietNarration: options.quiet })
  if (interrupted) return 'interrupted'
  throwIfFailed(job.jobId, outcome)
  return outcome
}

/** The payload of the last `data` event that matches `schema`. */
export function lastData<S extends z.ZodType>(outcome: JobOutcome, schema: S, what: string): z.output<S> {
  for (const d of outcome.data.toReversed()) {
    const parsed = schema.safeParse(d.payload)
    if (parsed.success) return parsed.data
  }
  throw new RbeeError('RBEE_UPSTREAM', `the job finished without ${what}`)
}

/**
 * The hive an operation goes to: the one named, else the only online hive.
 * @throws RbeeError `RBEE_HIVE_NOT_FOUND` / `RBEE_HIVE_OFFLINE`, or UsageError-like
 * `RBEE_BAD_REQUEST` when several hives are online and none was named.
 */
export async function pickHive(
  client: QueenClient,
  named: string | undefined,
  signal: AbortSignal,
): Promise<string> {
  const hives = await client.hives(signal)
  if (named !== undefined) {
    const hive = hives.find((h) => h.id === named)
    if (!hive) {
      throw new RbeeError(
        'RBEE_HIVE_NOT_FOUND',
        `the queen knows no hive "${named}" (known: ${hives.map((h) => h.id).join(', ') || 'none'})`,
      )
    }
    return hive.id
  }
  const online = hives.filter((h) => h.online)
  if (online.length === 1) return online[0]!.id
  if (online.length === 0) throw new RbeeError('RBEE_HIVE_OFFLINE', 'no hive is online (see rbee hive list)')
  throw new RbeeError(
    'RBEE_BAD_REQUEST',
    `several hives are online (${online.map((h) => h.id).join(', ')}): pick one with --hive`,
  )
}
