import { setFlagsFromString } from 'node:v8'
import { errorMessage, refusedField } from '@rbee/common'
import type { GrammarJsonSchema } from '@rbee/contracts'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'

// The check of generated JSON against the schema it was generated under (normal form), for the
// keywords a grammar cannot hold (multipleOf, uniqueItems, a pattern beyond the grammar's subset,
// lengths beside a pattern or format, exclusive bounds on non-integers) and as a last guard for
// the rest: a real JSON Schema validator (ajv, draft 2020-12) with the formats as they define them.

/** Generations of one request at most when its output breaks its schema (each with another seed). */
export const OUTPUT_CHECK_ATTEMPTS = 3

// ajv-formats is CommonJS: its default export arrives as the module object under NodeNext.
const addFormats = addFormatsModule.default

// A client's `pattern` runs in V8's linear-time regular expression engine, so a pattern that
// would backtrack exponentially on the output (`(a+)+$`) cannot stall the worker's event loop;
// one that engine cannot run (look-around, back-references) is refused before generation. That
// engine (Node 20) has no `u` mode: patterns are compiled without it, and the escapes whose
// meaning needs it (`\p{…}`, `\u{…}`) are refused rather than read differently.
setFlagsFromString('--enable-experimental-regexp-engine')
const UNICODE_ONLY = /\\[pP]|\\u\{/
const linearRegExp = Object.assign(
  (pattern: string, flags: string): RegExp => {
    if (UNICODE_ONLY.test(pattern))
      throw new Error(`/${pattern}/: \\p{…} and \\u{…} cannot be checked in linear time`)
    return new RegExp(pattern, `${flags.replace('u', '')}l`)
  },
  { code: 'new RegExp' },
)

const ajv = new Ajv2020({
  strict: false,
  allErrors: false,
  validateFormats: true,
  code: { regExp: linearRegExp },
})
addFormats(ajv, { mode: 'full', formats: ['date', 'time', 'date-time', 'uri', 'email', 'uuid', 'ipv4'] })

/** Compiled validators by schema text; a few schemas serve most requests (an agent's tools). */
const compiled = new Map<string, ValidateFunction>()
const MAX_COMPILED = 256

/**
 * The validator of `schema`, compiled once. Called before generating, so a schema that cannot be
 * checked is refused before any work.
 * @throws RbeeError `RBEE_VALIDATION` (400) when it cannot be compiled (a `pattern` the linear-time
 * engine cannot run).
 */
export function validatorOf(schema: GrammarJsonSchema, field = 'schema'): ValidateFunction {
  const key = JSON.stringify(schema)
  let v = compiled.get(key)
  if (v === undefined) {
    try {
      v = ajv.compile({ ...schema })
    } catch (err) {
      throw refusedField(
        field,
        `cannot be checked: ${errorMessage(err)} (patterns may not use look-around or back-references)`,
      )
    }
    if (compiled.size >= MAX_COMPILED) compiled.delete(compiled.keys().next().value!)
    compiled.set(key, v)
  }
  return v
}

/** How a value breaks its schema: the keyword, where (a JSON pointer in the value), and the value there. */
export interface OutputViolation {
  keyword: string
  path: string
  value: unknown
  message: string
}

const at = (value: unknown, pointer: string): unknown =>
  pointer
    .split('/')
    .slice(1)
    .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'))
    .reduce<unknown>(
      (v, p) => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[p] : undefined),
      value,
    )

/** The first way the JSON `text` breaks `schema`, or undefined when it validates. */
export function findViolation(schema: GrammarJsonSchema, text: string): OutputViolation | undefined {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return { keyword: 'json', path: '', value: text, message: 'is not JSON' }
  }
  const validate = validatorOf(schema)
  if (validate(value)) return undefined
  const e = validate.errors?.[0]
  const path = e?.instancePath ?? ''
  return {
    keyword: e?.keyword ?? 'schema',
    path,
    value: at(value, path),
    message: e?.message ?? 'does not validate',
  }
}

/** A violation in words: `maximum at /days: 40 (must be <= 7)`. */
export function describeViolation(v: OutputViolation, where: string): string {
  const shown = JSON.stringify(v.value) ?? String(v.value)
  return `${where}${v.path === '' ? '' : ` at ${v.path}`}: ${shown.length > 80 ? `${shown.slice(0, 77)}...` : shown} breaks ${v.keyword} (${v.message})`
}
