import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'

// A real JSON Schema validator (ajv, draft 2020-12) for what a model wrote under a schema, with
// the string formats rbee's grammar writes checked as JSON Schema defines them (RFC 3339 here;
// uri, email, uuid and ipv4 by ajv-formats).

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/
const TIME = /^([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/i

/** A calendar date that exists (2024-02-30 does not). */
function isDate(s: string): boolean {
  const m = DATE.exec(s)
  if (!m) return false
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])))
  return (
    d.getUTCFullYear() === Number(m[1]) &&
    d.getUTCMonth() === Number(m[2]) - 1 &&
    d.getUTCDate() === Number(m[3])
  )
}

const ajv = new Ajv2020({
  allErrors: true,
  strict: true,
  formats: {
    date: isDate,
    time: (s: string) => TIME.test(s),
    'date-time': (s: string) => {
      const t = s.search(/[Tt]/)
      return t === 10 && isDate(s.slice(0, t)) && TIME.test(s.slice(t + 1))
    },
  },
})
addFormats.default(ajv, { mode: 'full', formats: ['uri', 'email', 'uuid', 'ipv4'] })

/**
 * What is wrong with `value` under `schema` (JSON Schema 2020-12), one line per problem; empty
 * when it validates. Numbers must also be finite: JSON has no Infinity, and a parser that reads
 * `1e999` gets one.
 */
export function schemaErrors(schema: object, value: unknown): string[] {
  const validate = ajv.compile(schema)
  const errors = validate(value)
    ? []
    : (validate.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message ?? ''}`)
  const infinite: string[] = []
  const walk = (v: unknown, path: string): void => {
    if (typeof v === 'number' && !Number.isFinite(v)) infinite.push(`${path || '(root)'} is ${v}`)
    else if (Array.isArray(v)) for (const [i, x] of v.entries()) walk(x, `${path}/${i}`)
    else if (typeof v === 'object' && v !== null)
      for (const [k, x] of Object.entries(v)) walk(x, `${path}/${k}`)
  }
  walk(value, '')
  return [...errors, ...infinite]
}
