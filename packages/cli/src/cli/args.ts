import { parseArgs } from 'node:util'
import { DEFAULT_QUEEN_URL } from '@rbee/contracts'

/** One flag of a command. */
export interface FlagSpec {
  type: 'string' | 'boolean'
  short?: string
  /** The flag may be given several times (values collected in order). */
  multiple?: boolean
  /** Placeholder in help, e.g. `N` or `URL`. */
  value?: string
  /** Environment variable read when the flag is absent. */
  env?: string
  description: string
}

/** A command's interface: what `--help` prints and what the parser accepts. */
export interface CommandSpec {
  /** `infer`, `hive install`, … */
  name: string
  summary: string
  /** Positional part of the usage line, e.g. `[options] PROMPT`. */
  usage: string
  /** Longer explanation printed under the usage line. */
  description?: string
  flags: Record<string, FlagSpec>
  /** Lines of `rbee …` invocations, each optionally followed by `# what it does`. */
  examples: string[]
  /** Number of positionals accepted (min, max); max `Infinity` for any. @default [0, 0] */
  positionals?: [number, number]
  /** Adds `--json`. @default false */
  json?: boolean
}

/** A mistake in how rbee was called: exit code 2 and one usage line. */
export class UsageError extends Error {
  override name = 'UsageError'
  constructor(
    readonly command: string,
    message: string,
  ) {
    super(message)
  }
}

/** Flags every command takes. */
export const COMMON_FLAGS: Record<string, FlagSpec> = {
  'queen-url': {
    type: 'string',
    value: 'URL',
    env: 'RBEE_QUEEN_URL',
    description: `where queen-rbee listens (default: ${DEFAULT_QUEEN_URL})`,
  },
  'api-key': { type: 'string', value: 'KEY', env: 'RBEE_API_KEY', description: "the queen's API key" },
  'admin-key': {
    type: 'string',
    value: 'KEY',
    env: 'RBEE_ADMIN_KEY',
    description: 'an admin key, used only for model and worker management and shutdown',
  },
  verbose: { type: 'boolean', short: 'v', description: 'say more, and show the cause of an error' },
  'no-color': {
    type: 'boolean',
    description: 'no colours (also NO_COLOR=1); colours are only used on a terminal',
  },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
}

const JSON_FLAG: FlagSpec = { type: 'boolean', description: 'machine-readable output (JSON)' }

/** Every flag a command accepts, its own first. */
export function allFlags(spec: CommandSpec): Record<string, FlagSpec> {
  return { ...spec.flags, ...(spec.json ? { json: JSON_FLAG } : {}), ...COMMON_FLAGS }
}

/** Parsed command line of one command; flag values already merged with their env vars. */
export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | undefined>
  positionals: string[]
  /** Flags whose value came from their environment variable. */
  fromEnv: Set<string>
}

/** Turns node's parseArgs messages ("Unknown option '--x'. To specify…") into one short clause. */
function shortMessage(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err)
  return msg.split(/\.\s/)[0]!.replace(/\.$/, '')
}

/**
 * Parses `argv` (the words after the command name) against `spec`; flags absent from argv
 * take their environment variable's value from `env`.
 * @throws UsageError for an unknown flag, a missing value, or the wrong number of positionals.
 */
export function parseCommandArgs(
  spec: CommandSpec,
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): ParsedArgs {
  const flags = allFlags(spec)
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({
      args: [...argv],
      options: Object.fromEntries(
        Object.entries(flags).map(([name, f]) => [
          name,
          { type: f.type, ...(f.short ? { short: f.short } : {}), ...(f.multiple ? { multiple: true } : {}) },
        ]),
      ),
      strict: true,
      allowPositionals: true,
      allowNegative: false,
    })
  } catch (err) {
    throw new UsageError(spec.name, shortMessage(err))
  }
  // No flag is both boolean and multiple, so no value is a mixed array.
  const values = { ...parsed.values } as ParsedArgs['values']
  const fromEnv = new Set<string>()
  for (const [name, f] of Object.entries(flags)) {
    if (values[name] !== undefined || !f.env) continue
    const v = env[f.env]
    if (v === undefined || v === '') continue
    values[name] = f.type === 'boolean' ? !/^(0|false|no)$/i.test(v) : f.multiple ? [v] : v
    fromEnv.add(name)
  }
  const [min, max] = spec.positionals ?? [0, 0]
  if (!values.help) {
    if (parsed.positionals.length < min) {
      throw new UsageError(
        spec.name,
        `missing ${spec.usage.replace(/\[[^\]]*\]\s*/g, '').trim() || 'argument'}`,
      )
    }
    if (parsed.positionals.length > max) {
      throw new UsageError(spec.name, `unexpected argument '${parsed.positionals[max]}'`)
    }
  }
  return { values, positionals: parsed.positionals, fromEnv }
}

/** A string flag's value, if given. */
export function stringFlag(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name]
  if (Array.isArray(v)) return v.at(-1)
  return typeof v === 'string' ? v : undefined
}

/** A repeatable string flag's values. */
export function listFlag(args: ParsedArgs, name: string): string[] {
  const v = args.values[name]
  if (Array.isArray(v)) return v
  return typeof v === 'string' ? [v] : []
}

/** A boolean flag. */
export function boolFlag(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true
}

/**
 * A numeric flag within bounds.
 * @throws UsageError naming the flag when the value is not a number in range.
 */
export function numberFlag(
  spec: CommandSpec,
  args: ParsedArgs,
  name: string,
  opts: { int?: boolean; min?: number; max?: number } = {},
): number | undefined {
  const raw = stringFlag(args, name)
  if (raw === undefined) return undefined
  const n = raw.trim() === '' ? Number.NaN : Number(raw)
  const bad =
    !Number.isFinite(n) ||
    (opts.int && !Number.isInteger(n)) ||
    (opts.min !== undefined && n < opts.min) ||
    (opts.max !== undefined && n > opts.max)
  if (bad) {
    const range =
      opts.min !== undefined && opts.max !== undefined
        ? ` between ${opts.min} and ${opts.max}`
        : opts.min !== undefined
          ? ` ≥ ${opts.min}`
          : ''
    throw new UsageError(
      spec.name,
      `--${name} must be ${opts.int ? 'an integer' : 'a number'}${range}, not '${raw}'`,
    )
  }
  return n
}

/** The usage line: `rbee infer [options] PROMPT`. */
export function usageLine(spec: CommandSpec): string {
  return `rbee ${spec.name} ${spec.usage}`.trim()
}

/** The full `--help` text of a command. */
export function helpText(spec: CommandSpec): string {
  const lines = [`Usage: ${usageLine(spec)}`, '', spec.summary]
  if (spec.description) lines.push('', spec.description)
  const flags = allFlags(spec)
  const rows = Object.entries(flags).map(([name, f]) => {
    const left = `${f.short ? `-${f.short}, ` : '    '}--${name}${f.type === 'string' ? ` ${f.value ?? 'VALUE'}` : ''}`
    const env = f.env ? ` [${f.env}]` : ''
    return [left, `${f.description}${env}`] as const
  })
  const width = Math.min(32, Math.max(...rows.map(([l]) => l.length)) + 2)
  lines.push('', 'Options:')
  for (const [l, r] of rows) {
    lines.push(l.length + 2 > width ? `  ${l}\n  ${' '.repeat(width)}${r}` : `  ${l.padEnd(width)}${r}`)
  }
  if (spec.examples.length > 0) {
    lines.push('', 'Examples:')
    for (const e of spec.examples) lines.push(`  ${e}`)
  }
  return `${lines.join('\n')}\n`
}
