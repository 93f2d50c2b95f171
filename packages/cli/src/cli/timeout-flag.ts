import { MAX_TIMEOUT_S, TimeoutSecondsSchema } from '@rbee/contracts'
import { type CommandSpec, type FlagSpec, type ParsedArgs, stringFlag, UsageError } from './args.js'

/** `--timeout SECONDS`, for commands whose work can wait on the fleet. */
export const TIMEOUT_FLAG: Record<string, FlagSpec> = {
  timeout: {
    type: 'string',
    value: 'SECONDS',
    description: 'give up after this long, waiting included (exit code 124); e.g. 30 or 2.5',
  },
}

/**
 * The deadline `--timeout` sets (epoch milliseconds), counted from now; undefined without one.
 * @throws UsageError naming `--timeout` when it is not a number of seconds in range.
 */
export function timeoutDeadline(spec: CommandSpec, args: ParsedArgs): number | undefined {
  const raw = stringFlag(args, 'timeout')
  if (raw === undefined) return undefined
  const parsed = TimeoutSecondsSchema.safeParse(/^\s*\d+(\.\d+)?\s*$/.test(raw) ? Number(raw) : Number.NaN)
  if (!parsed.success) {
    throw new UsageError(
      spec.name,
      `--timeout must be a number of seconds above 0 and at most ${MAX_TIMEOUT_S} (7 days), not '${raw}'`,
    )
  }
  return Date.now() + parsed.data * 1000
}
