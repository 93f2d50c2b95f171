import { STREAM_IDLE_TIMEOUT_MS } from '@rbee/contracts'
import type { Command } from '../commands/command.js'

/** Where the words of a command line lead. */
export type Route =
  | { kind: 'command'; command: Command; rest: string[] }
  | { kind: 'group'; group: string; commands: Command[]; unknown: string | undefined }
  | { kind: 'top'; flag: 'help' | 'version' | undefined }
  | { kind: 'unknown'; word: string }

/** Finds the command `argv` names: one word (`infer`) or two (`hive install`). */
export function route(commands: readonly Command[], argv: readonly string[]): Route {
  const [first, second] = argv
  if (first === undefined || (first === 'help' && second === undefined))
    return { kind: 'top', flag: undefined }
  if (first === '--help' || first === '-h') return { kind: 'top', flag: 'help' }
  if (first === '--version' || first === '-V') return { kind: 'top', flag: 'version' }
  if (first === 'help' && second !== undefined) {
    return route(commands, [...argv.slice(1), '--help'])
  }
  const two = commands.find((c) => c.spec.name === `${first} ${second}`)
  if (two) return { kind: 'command', command: two, rest: argv.slice(2) }
  const one = commands.find((c) => c.spec.name === first)
  if (one) return { kind: 'command', command: one, rest: argv.slice(1) }
  const group = commands.filter((c) => c.spec.name.startsWith(`${first} `))
  if (group.length > 0) {
    const unknown = second === undefined || second === '--help' || second === '-h' ? undefined : second
    return { kind: 'group', group: first, commands: group, unknown }
  }
  return { kind: 'unknown', word: first }
}

/** `rbee hive` alone: its subcommands. */
export function groupHelp(group: string, commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.spec.name.length)) + 2
  return [
    `Usage: rbee ${group} COMMAND [options]`,
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.spec.name.padEnd(width)}${c.spec.summary}`),
    '',
    `Run rbee ${group} COMMAND --help for the options and examples of each.`,
    '',
  ].join('\n')
}

/** `rbee --help`. */
export function topHelp(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.spec.name.length)) + 2
  return [
    'Usage: rbee COMMAND [options]',
    '',
    'rbee drives a private inference cloud: one queen-rbee schedules requests across the',
    'rbee-hive daemons of your machines, each running llama.cpp workers.',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.spec.name.padEnd(width)}${c.spec.summary}`),
    '',
    'Every command takes --help, --queen-url URL (RBEE_QUEEN_URL), --api-key KEY (RBEE_API_KEY),',
    '--admin-key KEY (RBEE_ADMIN_KEY, used only where the queen needs one), --verbose and',
    `--no-color (NO_COLOR). A job stream silent for ${STREAM_IDLE_TIMEOUT_MS / 1000} s (RBEE_STREAM_TIMEOUT, seconds) means`,
    'the queen stopped answering. Exit codes: 0 ok, 1 failed, 2 usage, 130 interrupted.',
    '',
    'Quick start:',
    '  rbee infer "Hello"          # starts a local queen (and hive) if none runs, streams tokens',
    '  rbee status                 # the fleet',
    '',
  ].join('\n')
}
