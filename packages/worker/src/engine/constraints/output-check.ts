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

const ajv = new Ajv2020({ strict: false, allErrors: false, validateFormats: true })
addFormats(ajv, { mode: 'full', formats: ['date', 'time', 'date-time', 'uri', 'email', 'uuid', 'ipv4'] })

/** Compiled validators by schema text; a few schemas serve most requests (an agent's tools). */
const compiled = new Map<string, ValidateFunction>()
const MAX_COMPILED = 256

function validatorOf(schema: GrammarJsonSchema): ValidateFunction {
  const key = JSON.stringify(schema)
  let v = compiled.get(key)
  if (v === undefined) {
    v = ajv.compile({ ...schema })
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
