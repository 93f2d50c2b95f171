import type { RestartPolicyName } from '@rbee/contracts'

/** When and how often a hive restarts a worker that exited on its own. */
export interface RestartPolicy {
  /** `never`; `on-failure`: a non-zero exit or a signal; `always`: any exit the hive did not ask for. */
  policy: RestartPolicyName
  /** Restarts allowed within `windowMs`; one more crash and the hive gives up. */
  maxRestarts: number
  windowMs: number
  /** First restart delay; doubled per restart in the window, up to `backoffMaxMs`. */
  backoffInitialMs: number
  backoffMaxMs: number
}

/** `on-failure`, at most 5 restarts a minute, 0.5 s doubling to 30 s. */
export const DEFAULT_RESTART_POLICY: Readonly<RestartPolicy> = Object.freeze({
  policy: 'on-failure',
  maxRestarts: 5,
  windowMs: 60_000,
  backoffInitialMs: 500,
  backoffMaxMs: 30_000,
})

/** How a worker process ended. */
export interface ExitStatus {
  code: number | null
  signal: string | null
}

/** What to do after an unexpected exit. */
export type RestartDecision =
  | { restart: true; delayMs: number }
  | { restart: false; givenUp: boolean; reason: string }

/** `exit code 1`, `killed by signal SIGKILL`. */
export function describeExit(exit: ExitStatus): string {
  if (exit.signal) return `killed by signal ${exit.signal}`
  return `exit code ${exit.code ?? 'unknown'}`
}

/**
 * Decides whether to restart a worker that exited unexpectedly, given when it was restarted
 * before. `how` describes the exit in the reason. Pure: the caller records the restart when it
 * does one.
 */
export function decideRestart(
  policy: RestartPolicy,
  exit: ExitStatus,
  restartTimes: readonly number[],
  now: number,
  how = describeExit(exit),
): RestartDecision {
  if (policy.policy === 'never')
    return { restart: false, givenUp: false, reason: `${how}; restart policy is never` }
  const failed = exit.signal !== null || exit.code !== 0
  if (policy.policy === 'on-failure' && !failed) {
    return { restart: false, givenUp: false, reason: `${how}; on-failure does not restart a clean exit` }
  }
  const recent = restartTimes.filter((t) => now - t < policy.windowMs).length
  if (recent >= policy.maxRestarts) {
    return {
      restart: false,
      givenUp: true,
      reason: `gave up after ${recent} restart${recent === 1 ? '' : 's'} within ${Math.round(policy.windowMs / 1000)} s; last exit: ${how}`,
    }
  }
  const delayMs = Math.min(policy.backoffMaxMs, policy.backoffInitialMs * 2 ** recent)
  return { restart: true, delayMs }
}
