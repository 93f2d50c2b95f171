import { Deadline, deadlineExceeded, earliestDeadline } from '@rbee/common'

/**
 * How long after a request's deadline the queen ends it itself. The worker is told the deadline
 * and ends the request at it, with its own error frame (after how many tokens, the slot freed);
 * this margin lets that frame arrive first. A worker that cannot (frozen, gone quiet) is cut off
 * here.
 */
export const DEADLINE_GRACE_MS = 1000

/**
 * The signal a routed request runs under: `parent`'s (the client went away), or, with a deadline,
 * `RBEE_DEADLINE_EXCEEDED` once `DEADLINE_GRACE_MS` past it. Call `clear()` when the request ends.
 */
export function requestDeadlineSignal(
  parent: AbortSignal,
  deadlineAt: number | undefined,
): { signal: AbortSignal; clear: () => void } {
  if (deadlineAt === undefined) return { signal: parent, clear: () => {} }
  const d = Deadline.until(deadlineAt + DEADLINE_GRACE_MS, {
    parent,
    error: () => deadlineExceeded('the worker did not end the request at its deadline; the queen ended it'),
  })
  return { signal: d.signal, clear: () => d.clear() }
}

/**
 * An OpenAI request's deadline: its headers' (`headerAt`, epoch milliseconds) or its body's
 * `timeout` from now, the earlier.
 */
export function openAiDeadline(
  headerAt: number | undefined,
  timeoutS: number | null | undefined,
): number | undefined {
  return earliestDeadline(headerAt, timeoutS == null ? undefined : Date.now() + timeoutS * 1000)
}
