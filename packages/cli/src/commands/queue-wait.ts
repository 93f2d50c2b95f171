import type { JobStream, QueenClient } from '@rbee/client'
import { deadlineExceeded, delay, formatSeconds } from '@rbee/common/base'
import type { JobStreamEvent, Operation } from '@rbee/contracts'
import type { CliContext } from '../cli/context.js'
import type { NarrationView } from '../cli/progress-bar.js'
import { type FollowResult, followJob, withDeadline } from './queen-access.js'

/** Pause before the first new try when the queue is full; it doubles up to `MAX_PAUSE_MS`. */
const FIRST_PAUSE_MS = 250
const MAX_PAUSE_MS = 2000

export interface QueueWaitOptions {
  view: NarrationView
  /** Try again while the model's queue is full; false (`--no-wait`) fails at once. */
  wait: boolean
  /** The command's `--timeout` (epoch milliseconds): every try gets what is left of it. */
  deadlineAt: number | undefined
  /** No narration on stderr. */
  quiet: boolean
  /** Every event of the try that counts (a try that is repeated passes on all but its `end`). */
  onEvent: (ev: JobStreamEvent) => void
}

export interface QueueWaitResult {
  job: JobStream
  follow: FollowResult
}

/** The code that leads a job's error message (`RBEE_QUEUE_FULL: …`). */
function codeOf(message: string | null): string | undefined {
  return /^(RBEE_[A-Z0-9_]+): /.exec(message ?? '')?.[1]
}

/**
 * Runs a job that waits in the queen's queue for its model (an `infer`), and waits for a place in
 * that queue too: while the queen answers that the queue is full — or, for a command without a
 * deadline, that the wait in it ran out — the job is started again after a pause, until the
 * deadline. While in the queue the queen narrates the job's position; a full queue is said once
 * here.
 * @returns the try that counted (it ran, failed otherwise, or was interrupted).
 * @throws RbeeError `RBEE_DEADLINE_EXCEEDED` when the deadline passes between tries.
 */
export async function runWaitingInQueue(
  ctx: CliContext,
  client: QueenClient,
  op: Operation,
  o: QueueWaitOptions,
): Promise<QueueWaitResult> {
  const started = Date.now()
  let pause = FIRST_PAUSE_MS
  let said = false
  const noPlace = (): Error =>
    deadlineExceeded(`no place in the queue became free within ${formatSeconds(Date.now() - started)}`)
  for (let tries = 0; ; tries++) {
    let attempt: Operation
    try {
      attempt = withDeadline(op, o.deadlineAt)
    } catch (err) {
      // A retry whose deadline passed while it paused ends as the wait it was.
      if (tries > 0) throw noPlace()
      throw err
    }
    const hard = new AbortController()
    const job = await client.run(attempt, { signal: hard.signal })
    let end: JobStreamEvent | undefined
    const follow = await followJob(ctx, job, hard, {
      view: o.view,
      quietNarration: o.quiet,
      onEvent: (ev) => {
        if (ev.kind === 'end') end = ev
        else o.onEvent(ev)
      },
    })
    const { outcome } = follow
    const code = codeOf(outcome.message)
    const again =
      o.wait &&
      !follow.interrupted &&
      outcome.outcome === 'error' &&
      outcome.tokens === 0 &&
      (code === 'RBEE_QUEUE_FULL' || (code === 'RBEE_QUEUE_TIMEOUT' && o.deadlineAt === undefined))
    if (!again) {
      if (end) o.onEvent(end)
      return { job, follow }
    }
    const left = o.deadlineAt === undefined ? Number.POSITIVE_INFINITY : o.deadlineAt - Date.now()
    if (left <= 0) throw noPlace()
    if (!said && !o.quiet) {
      said = true
      const why = outcome.message!.slice(code!.length + 2)
      o.view.line(
        `${why}: waiting for a place in the queue${
          o.deadlineAt === undefined ? ' (Ctrl+C stops)' : ` (up to ${formatSeconds(left)} more)`
        }; --no-wait fails at once instead`,
      )
    }
    try {
      await delay(Math.min(pause, left), ctx.signal)
    } catch {
      // Ctrl+C while pausing: nothing runs on the queen; the command ends as interrupted.
      return { job, follow: { outcome, interrupted: true } }
    }
    pause = Math.min(pause * 2, MAX_PAUSE_MS)
  }
}
