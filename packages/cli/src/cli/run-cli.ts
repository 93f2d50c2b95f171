import { errorMessage, RbeeError } from '@rbee/common/base'
import { COMMANDS } from '../commands/all.js'
import { VERSION } from '../version.js'
import { helpText, parseCommandArgs, UsageError, usageLine } from './args.js'
import { type CliContext, EXIT } from './context.js'
import { paint } from './output.js'
import { groupHelp, route, topHelp } from './router.js'

/** What to do about a refused credential or a silent queen, in the CLI's own terms. */
const HINTS: Partial<Record<string, string>> = {
  RBEE_UNAUTHORIZED: "pass the queen's key with --api-key KEY (RBEE_API_KEY)",
  RBEE_FORBIDDEN: 'pass an admin key with --admin-key KEY (RBEE_ADMIN_KEY)',
  RBEE_STREAM_STALLED: 'to wait longer, set RBEE_STREAM_TIMEOUT=SECONDS (0 = forever)',
}

/** Errors with an exit code of their own, for scripts (the rest exit 1). */
const EXIT_CODES: Partial<Record<string, number>> = {
  RBEE_QUEUE_FULL: EXIT.busy,
  RBEE_DEADLINE_EXCEEDED: EXIT.timeout,
}

/** The lines of an error for the user: one line, or with `verbose` its code and causes too. */
export function describeError(err: unknown, verbose: boolean): string[] {
  const hint = err instanceof RbeeError ? HINTS[err.code] : undefined
  const lines = [`${errorMessage(err).split('\n')[0]!}${hint ? `: ${hint}` : ''}`]
  const rest = errorMessage(err).split('\n').slice(1)
  if (rest.length > 0) lines.push(...rest.map((l) => `  ${l}`))
  if (!verbose) return lines
  if (err instanceof RbeeError) {
    lines.push(`  code: ${err.code}${err.status ? ` (HTTP ${err.status})` : ''}`)
    if (err.details !== undefined) lines.push(`  details: ${JSON.stringify(err.details)}`)
  }
  let cause = (err as { cause?: unknown } | undefined)?.cause
  for (let depth = 0; cause !== undefined && depth < 5; depth++) {
    lines.push(`  caused by: ${errorMessage(cause)}`)
    cause = (cause as { cause?: unknown } | undefined)?.cause
  }
  if (!(err instanceof RbeeError) && err instanceof Error && err.stack) {
    lines.push(
      ...err.stack
        .split('\n')
        .slice(1)
        .map((l) => `  ${l.trim()}`),
    )
  }
  return lines
}

/**
 * Runs one rbee command line and resolves with its exit code: 0 ok, 1 failed, 2 usage, 75 the
 * queue was full (`--no-wait`), 124 the `--timeout` passed, 130 interrupted. Everything is written through `ctx.out`; nothing here exits the process.
 */
export async function runCli(argv: readonly string[], ctx: CliContext): Promise<number> {
  const { out } = ctx
  const r = route(COMMANDS, argv)
  if (r.kind === 'top') {
    if (r.flag === 'version') {
      out.stdout.write(`rbee ${VERSION}\n`)
      return EXIT.ok
    }
    ;(r.flag === 'help' ? out.stdout : out.stderr).write(topHelp(COMMANDS))
    return r.flag === 'help' ? EXIT.ok : EXIT.usage
  }
  if (r.kind === 'unknown') {
    out.stderr.write(
      `rbee: unknown command '${r.word}'\nUsage: rbee COMMAND [options]  (rbee --help lists the commands)\n`,
    )
    return EXIT.usage
  }
  if (r.kind === 'group') {
    if (r.unknown !== undefined) {
      out.stderr.write(
        `rbee ${r.group}: unknown command '${r.unknown}'\nUsage: rbee ${r.group} ${r.commands.map((c) => c.spec.name.split(' ')[1]).join('|')} [options]\n`,
      )
      return EXIT.usage
    }
    const asked = argv.includes('--help') || argv.includes('-h')
    ;(asked ? out.stdout : out.stderr).write(groupHelp(r.group, r.commands))
    return asked ? EXIT.ok : EXIT.usage
  }
  const { spec } = r.command
  const verbose = r.rest.includes('--verbose') || r.rest.includes('-v')
  try {
    const args = parseCommandArgs(spec, r.rest, ctx.env)
    if (args.values.help) {
      out.stdout.write(helpText(spec))
      return EXIT.ok
    }
    return await r.command.run(ctx, args)
  } catch (err) {
    if (err instanceof UsageError) {
      out.stderr.write(
        `rbee ${spec.name}: ${err.message}\nUsage: ${usageLine(spec)}  (rbee ${spec.name} --help)\n`,
      )
      return EXIT.usage
    }
    if (ctx.signal.aborted) {
      out.stderr.write('interrupted\n')
      return EXIT.interrupted
    }
    const [first, ...more] = describeError(err, verbose)
    out.stderr.write(`${paint(out.color, 'red', 'rbee:')} ${first}\n${more.map((l) => `${l}\n`).join('')}`)
    return (err instanceof RbeeError ? EXIT_CODES[err.code] : undefined) ?? EXIT.failed
  }
}
