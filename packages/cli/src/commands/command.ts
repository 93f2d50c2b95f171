import type { CommandSpec, ParsedArgs } from '../cli/args.js'
import type { CliContext } from '../cli/context.js'

/** One `rbee` command: its interface and what it does. `run` resolves with the exit code. */
export interface Command {
  spec: CommandSpec
  run(ctx: CliContext, args: ParsedArgs): Promise<number>
}
