import { parseArgs } from 'node:util'
import { fieldIssues } from '@rbee/contracts'
import type { z } from 'zod'

/** How a flag's text becomes a value: as is, a number, a switch, or a repeatable list. */
export type FlagKind = 'string' | 'int' | 'bool' | 'list'

/** Flag name → [config key, environment variable, default, kind]. */
export type FlagTable = Readonly<Record<string, readonly [string, string, string | undefined, FlagKind]>>

/** A configuration problem: the message is for the person who started the program. */
export class ConfigError extends Error {
  override name = 'ConfigError'
}

/**
 * Reads every flag of `table` from argv, then its environment variable, then its default (in
 * that order of precedence). `int` values that look like integers become numbers (others are
 * left for the schema to reject by name); `bool` is true when the flag is given or the variable
 * is 1/true/yes; `list` takes repeated flags, else the variable split on commas.
 * @throws ConfigError for unknown flags, positionals or a flag without its value.
 */
export function readFlags(
  table: FlagTable,
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): Record<string, unknown> {
  let values: Record<string, unknown>
  try {
    values = parseArgs({
      args: [...argv],
      options: Object.fromEntries(
        Object.entries(table).map(([flag, [, , , kind]]) => [
          flag,
          kind === 'bool'
            ? { type: 'boolean' as const }
            : { type: 'string' as const, ...(kind === 'list' ? { multiple: true } : {}) },
        ]),
      ),
      strict: true,
      allowPositionals: false,
    }).values
  } catch (err) {
    throw new ConfigError((err as Error).message)
  }
  const raw: Record<string, unknown> = {}
  for (const [flag, [key, envName, def, kind]] of Object.entries(table)) {
    const fromFlag = values[flag]
    if (kind === 'bool') {
      raw[key] = fromFlag === true || /^(1|true|yes)$/i.test(env[envName] ?? '')
      continue
    }
    if (kind === 'list') {
      const list = Array.isArray(fromFlag) ? fromFlag.map(String) : (env[envName] ?? def ?? '').split(',')
      raw[key] = list.map((s) => s.trim()).filter((s) => s !== '')
      continue
    }
    const v = (fromFlag as string | undefined) ?? env[envName] ?? def
    if (v === undefined || v === '') continue
    raw[key] = kind === 'int' && /^-?\d+$/.test(v) ? Number(v) : v
  }
  return raw
}

/**
 * Validates raw flag values with `schema`.
 * @throws ConfigError naming each bad value by its flag (`--slots: Too small: …`).
 */
export function validateFlags<S extends z.ZodType>(table: FlagTable, schema: S, raw: unknown): z.output<S> {
  const result = schema.safeParse(raw)
  if (result.success) return result.data
  const flagOf = new Map<string, string>(Object.entries(table).map(([flag, [key]]) => [key, flag]))
  throw new ConfigError(
    fieldIssues(result.error)
      .map((i) => `--${flagOf.get(i.path.split('.')[0] ?? i.path) ?? i.path}: ${i.message}`)
      .join('; '),
  )
}
