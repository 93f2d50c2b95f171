/**
 * The part of JSON Schema that rbee generates JSON under (tool-call arguments and structured
 * output), and its normal form.
 *
 * A schema is checked once, where it enters (a request's `response_format`, a tool's
 * `parameters`): every keyword is either honoured or refused with its path, so what the model
 * writes always parses and validates against the schema the client sent. Most keywords are
 * honoured by the grammar the JSON is generated under (node-llama-cpp's JSON-schema grammar with
 * the worker's additions: integer and number bounds, simple `pattern`s, the `uri`, `email`,
 * `uuid` and `ipv4` formats); what a grammar cannot hold (`multipleOf`, `uniqueItems`, a pattern
 * beyond the grammar's regex subset, exclusive bounds on non-integers) is checked on the output
 * after generation, which is sampled again when it breaks the schema. The normal form is what the
 * grammar is built from: a list of types becomes one `anyOf` branch per type, definitions move to the root's `$defs`,
 * an `exclusiveMinimum: true` of draft 4 becomes the number of `minimum`, and annotations other
 * than `description` are dropped.
 *
 * Refused, with why: `oneOf` (an alternation cannot make exactly one branch match: use `anyOf`),
 * `allOf`, `not`, `if`/`then`/`else`, `patternProperties`, `propertyNames` other than
 * `{"type": "string"}`, `contains`, `dependent*`, `unevaluated*`, string formats other than
 * `date`, `time`, `date-time`, `uri`, `email`, `uuid` and `ipv4`, `$ref` other than to the root's
 * `$defs` or `definitions`, and any keyword JSON Schema does not define.
 */

/** A schema in normal form: plain JSON, node-llama-cpp's `GbnfJsonSchema` once `anyOf` is its `oneOf`. */
export type GrammarJsonSchema = { readonly [key: string]: unknown }

/** One refused or malformed part of a schema, by path inside the schema. */
export interface SchemaIssue {
  path: (string | number)[]
  message: string
}

export type NormalizedSchema = { ok: true; schema: GrammarJsonSchema } | { ok: false; issues: SchemaIssue[] }

/** Deepest nesting of schemas accepted (pydantic models nest a few levels; 32 is far past that). */
export const MAX_SCHEMA_DEPTH = 32

/** Keywords that only describe: accepted anywhere, `description` kept for the model to read. */
const ANNOTATIONS = new Set([
  'title',
  'description',
  '$comment',
  '$schema',
  '$id',
  'examples',
  'default',
  'deprecated',
  'readOnly',
  'writeOnly',
])

type JsonType = 'string' | 'number' | 'integer' | 'boolean' | 'null' | 'object' | 'array'
const TYPES: ReadonlySet<string> = new Set([
  'string',
  'number',
  'integer',
  'boolean',
  'null',
  'object',
  'array',
])

const NUMBER_KEYWORDS = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf']

/** The keywords each type takes (beyond `type` and annotations). */
const TYPE_KEYWORDS: Record<JsonType, ReadonlySet<string>> = {
  string: new Set(['minLength', 'maxLength', 'format', 'pattern']),
  number: new Set(NUMBER_KEYWORDS),
  integer: new Set(NUMBER_KEYWORDS),
  boolean: new Set(),
  null: new Set(),
  object: new Set([
    'properties',
    'required',
    'additionalProperties',
    'minProperties',
    'maxProperties',
    'propertyNames',
  ]),
  array: new Set(['items', 'prefixItems', 'minItems', 'maxItems', 'uniqueItems']),
}

/** Keywords JSON Schema defines that the grammar cannot honour, and what to say about them. */
const REFUSED = new Map<string, string>([
  ['oneOf', 'oneOf is not supported (a grammar cannot make exactly one branch match): use anyOf'],
  ['allOf', 'allOf is not supported'],
  ['not', 'not is not supported'],
  ['if', 'if/then/else is not supported'],
  ['then', 'if/then/else is not supported'],
  ['else', 'if/then/else is not supported'],
  ['patternProperties', 'patternProperties is not supported'],
  ['unevaluatedProperties', 'unevaluatedProperties is not supported'],
  ['unevaluatedItems', 'unevaluatedItems is not supported'],
  ['dependentRequired', 'dependentRequired is not supported'],
  ['dependentSchemas', 'dependentSchemas is not supported'],
  ['dependencies', 'dependencies is not supported'],
  ['contains', 'contains is not supported'],
  ['minContains', 'minContains is not supported'],
  ['maxContains', 'maxContains is not supported'],
  ['contentEncoding', 'contentEncoding is not supported'],
  ['contentMediaType', 'contentMediaType is not supported'],
  ['contentSchema', 'contentSchema is not supported'],
  ['$anchor', '$anchor is not supported'],
  ['$dynamicRef', '$dynamicRef is not supported'],
  ['$dynamicAnchor', '$dynamicAnchor is not supported'],
  ['$vocabulary', '$vocabulary is not supported'],
])

/** String formats rbee writes (the grammar of each is in the worker). */
export const JSON_SCHEMA_FORMATS: readonly string[] = [
  'date',
  'time',
  'date-time',
  'uri',
  'email',
  'uuid',
  'ipv4',
]
const FORMATS: ReadonlySet<string> = new Set(JSON_SCHEMA_FORMATS)

/** Longest `pattern` accepted (a regular expression is compiled and run on the output). */
export const MAX_PATTERN_LENGTH = 1000
const DEF_PREFIXES = ['#/$defs/', '#/definitions/'] as const

type Path = (string | number)[]
type Json = { [key: string]: unknown }

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)
const isLiteral = (v: unknown): boolean =>
  v === null ||
  typeof v === 'string' ||
  typeof v === 'boolean' ||
  (typeof v === 'number' && Number.isFinite(v))
const literalType = (v: unknown): JsonType =>
  v === null
    ? 'null'
    : typeof v === 'number'
      ? Number.isInteger(v)
        ? 'integer'
        : 'number'
      : (typeof v as 'string' | 'boolean')
/** Whether a literal is of a JSON Schema type (an integer is also a number). */
const literalFits = (v: unknown, t: JsonType): boolean =>
  literalType(v) === t || (t === 'number' && literalType(v) === 'integer')

/** Any JSON value, as the grammar can write one. */
const ANY_VALUE: GrammarJsonSchema = {
  anyOf: [
    { type: ['string', 'number', 'boolean', 'null'] },
    { type: 'object', additionalProperties: true },
    { type: 'array' },
  ],
}

/** Checks a schema and brings it to normal form. */
class Normalizer {
  readonly issues: SchemaIssue[] = []
  readonly #defNames: ReadonlySet<string>

  constructor(defNames: ReadonlySet<string>) {
    this.#defNames = defNames
  }

  #fail(path: Path, message: string): undefined {
    this.issues.push({ path, message })
    return undefined
  }

  /** The normal form of `node`, or undefined after recording why not. */
  schema(node: unknown, path: Path, depth: number): GrammarJsonSchema | undefined {
    if (depth > MAX_SCHEMA_DEPTH) return this.#fail(path, `nests deeper than ${MAX_SCHEMA_DEPTH} levels`)
    if (node === true) return ANY_VALUE
    if (!isObject(node)) return this.#fail(path, 'must be a JSON schema (an object)')
    const described = typeof node.description === 'string' ? { description: node.description } : {}
    const keys = Object.keys(node).filter((k) => !ANNOTATIONS.has(k))
    for (const k of keys) {
      if (REFUSED.has(k)) this.#fail([...path, k], REFUSED.get(k)!)
      else if (k === '$defs' || k === 'definitions') {
        if (path.length > 0) this.#fail([...path, k], `${k} is only supported at the root of the schema`)
      }
    }
    const has = (k: string): boolean => Object.hasOwn(node, k)
    const others = (allowed: readonly string[]): void => {
      for (const k of keys) {
        if (allowed.includes(k) || REFUSED.has(k) || k === '$defs' || k === 'definitions') continue
        this.#fail([...path, k], `${k} cannot be combined with ${allowed[0]} here`)
      }
    }
    if (has('$ref')) {
      others(['$ref'])
      return this.#ref(node.$ref, [...path, '$ref'], described)
    }
    if (has('anyOf')) {
      others(['anyOf'])
      const list = node.anyOf
      if (!Array.isArray(list) || list.length === 0)
        return this.#fail([...path, 'anyOf'], 'must be a non-empty array of schemas')
      const branches = list.map((s, i) => this.schema(s, [...path, 'anyOf', i], depth + 1))
      return branches.every((b) => b !== undefined) ? { ...described, anyOf: branches } : undefined
    }
    const types = this.#types(node, path)
    if (types === undefined) return undefined
    if (has('const') || has('enum')) return this.#literals(node, path, types, described)
    const used = types ?? this.#inferredTypes(keys)
    for (const k of keys) {
      if (k === 'type' || REFUSED.has(k) || k === '$defs' || k === 'definitions') continue
      if (used.some((t) => TYPE_KEYWORDS[t].has(k))) continue
      const known = Object.values(TYPE_KEYWORDS).some((set) => set.has(k))
      this.#fail(
        [...path, k],
        known
          ? `${k} does not apply to type ${used.join(' or ')}`
          : `${k} is not a JSON Schema keyword rbee supports`,
      )
    }
    if (used.length === 7) return { ...described, ...ANY_VALUE }
    const branches = used.map((t) => this.#typed(t, node, path, depth))
    if (branches.some((b) => b === undefined)) return undefined
    return branches.length === 1 ? { ...described, ...branches[0] } : { ...described, anyOf: branches }
  }

  /** The declared types, [] when none is declared, or undefined after a recorded issue. */
  #types(node: Json, path: Path): JsonType[] | null | undefined {
    if (!Object.hasOwn(node, 'type')) return null
    const t = node.type
    const list = typeof t === 'string' ? [t] : Array.isArray(t) ? t : undefined
    if (list === undefined || list.length === 0 || list.some((x) => typeof x !== 'string' || !TYPES.has(x)))
      return this.#fail(
        [...path, 'type'],
        'must be one of string, number, integer, boolean, null, object, array, or a list of them',
      )
    return [...new Set(list as JsonType[])]
  }

  /** Without `type`, the types whose keywords appear (every type when none does). */
  #inferredTypes(keys: string[]): JsonType[] {
    const all = Object.keys(TYPE_KEYWORDS) as JsonType[]
    const found = all.filter((t) => keys.some((k) => TYPE_KEYWORDS[t].has(k)))
    return found.length > 0 ? found : all
  }

  #literals(
    node: Json,
    path: Path,
    types: JsonType[] | null,
    described: object,
  ): GrammarJsonSchema | undefined {
    for (const k of Object.keys(node)) {
      if (k === 'const' || k === 'enum' || k === 'type' || ANNOTATIONS.has(k) || REFUSED.has(k)) continue
      this.#fail(
        [...path, k],
        `${k} cannot be combined with ${Object.hasOwn(node, 'const') ? 'const' : 'enum'}`,
      )
    }
    const values = Object.hasOwn(node, 'const') ? [node.const] : node.enum
    const where: Path = Object.hasOwn(node, 'const') ? [...path, 'const'] : [...path, 'enum']
    if (!Array.isArray(values) || values.length === 0) return this.#fail(where, 'must be a non-empty array')
    if (Object.hasOwn(node, 'const') && Object.hasOwn(node, 'enum'))
      return this.#fail([...path, 'enum'], 'enum cannot be combined with const')
    for (const [i, v] of values.entries()) {
      const at = Object.hasOwn(node, 'const') ? where : [...where, i]
      if (!isLiteral(v))
        return this.#fail(at, 'only strings, finite numbers, booleans and null are supported')
      if (types !== null && !types.some((t) => literalFits(v, t)))
        return this.#fail(at, `${JSON.stringify(v)} is not of type ${types.join(' or ')}`)
    }
    return Object.hasOwn(node, 'const')
      ? { ...described, const: node.const }
      : { ...described, enum: values as unknown[] }
  }

  #ref(ref: unknown, path: Path, described: object): GrammarJsonSchema | undefined {
    const prefix = typeof ref === 'string' ? DEF_PREFIXES.find((p) => ref.startsWith(p)) : undefined
    if (typeof ref !== 'string' || prefix === undefined)
      return this.#fail(
        path,
        'only references to the root’s $defs or definitions (#/$defs/name) are supported',
      )
    const name = ref.slice(prefix.length)
    if (!this.#defNames.has(name)) return this.#fail(path, `${ref} names no definition`)
    return { ...described, $ref: `#/$defs/${name}` }
  }

  #count(node: Json, key: string, path: Path): number | undefined {
    const v = node[key]
    if (v === undefined) return undefined
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
      this.#fail([...path, key], 'must be a non-negative integer')
      return undefined
    }
    return v
  }

  #range(node: Json, path: Path, min: string, max: string): { min?: number; max?: number } {
    const lo = this.#count(node, min, path)
    const hi = this.#count(node, max, path)
    if (lo !== undefined && hi !== undefined && lo > hi)
      this.#fail([...path, min], `${min} is more than ${max}`)
    return { ...(lo === undefined ? {} : { min: lo }), ...(hi === undefined ? {} : { max: hi }) }
  }

  /** A `pattern`: an ECMA-262 regular expression (JSON Schema's dialect), compiled once here. */
  #pattern(p: unknown, path: Path): string | undefined {
    if (typeof p !== 'string') return this.#fail(path, 'must be a string (a regular expression)')
    if (p.length > MAX_PATTERN_LENGTH)
      return this.#fail(path, `is longer than ${MAX_PATTERN_LENGTH} characters`)
    try {
      new RegExp(p, 'u')
    } catch (err) {
      return this.#fail(path, `is not a valid regular expression: ${(err as Error).message}`)
    }
    return p
  }

  /**
   * The numeric keywords of a number or integer schema, checked, with draft 4's boolean
   * `exclusiveMinimum`/`exclusiveMaximum` turned into the numbers of 2020-12.
   */
  #bounds(t: 'number' | 'integer', node: Json, path: Path): Json {
    const out: Json = {}
    const num = (key: string): number | undefined => {
      const v = node[key]
      if (v === undefined || typeof v === 'boolean') return undefined
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        this.#fail([...path, key], 'must be a finite number')
        return undefined
      }
      return v
    }
    const side = (
      inclusive: 'minimum' | 'maximum',
      exclusive: 'exclusiveMinimum' | 'exclusiveMaximum',
    ): void => {
      const plain = num(inclusive)
      const flag = node[exclusive]
      if (typeof flag === 'boolean') {
        if (flag && plain === undefined)
          this.#fail([...path, exclusive], `exclusive bound without ${inclusive}`)
        else if (plain !== undefined) out[flag ? exclusive : inclusive] = plain
        return
      }
      const strict = num(exclusive)
      if (plain !== undefined) out[inclusive] = plain
      if (strict !== undefined) out[exclusive] = strict
    }
    side('minimum', 'exclusiveMinimum')
    side('maximum', 'exclusiveMaximum')
    const step = num('multipleOf')
    if (step !== undefined) {
      if (step <= 0) this.#fail([...path, 'multipleOf'], 'must be more than 0')
      else out.multipleOf = step
    }
    if (numericRange(out, t).empty)
      this.#fail(
        [...path, Object.hasOwn(out, 'exclusiveMinimum') ? 'exclusiveMinimum' : 'minimum'],
        `no ${t} is within the bounds`,
      )
    return out
  }

  /** `propertyNames`: keys are strings anyway, so only a schema that allows every string is honoured. */
  #propertyNames(s: unknown, path: Path): void {
    if (s === true) return
    const allowsAny =
      isObject(s) && Object.keys(s).every((k) => ANNOTATIONS.has(k) || (k === 'type' && s.type === 'string'))
    if (!allowsAny) this.#fail(path, 'propertyNames is supported only as {"type": "string"}')
  }

  /** The normal form of `node` read as a schema of type `t`. */
  #typed(t: JsonType, node: Json, path: Path, depth: number): GrammarJsonSchema | undefined {
    const before = this.issues.length
    const out: Json = { type: t }
    if (t === 'string') {
      const { min, max } = this.#range(node, path, 'minLength', 'maxLength')
      if (node.format !== undefined) {
        if (typeof node.format !== 'string' || !FORMATS.has(node.format))
          this.#fail(
            [...path, 'format'],
            `format ${JSON.stringify(node.format)} is not supported (${JSON_SCHEMA_FORMATS.join(', ')} are)`,
          )
        else out.format = node.format
      }
      if (node.pattern !== undefined) {
        const pattern = this.#pattern(node.pattern, [...path, 'pattern'])
        if (pattern !== undefined) out.pattern = pattern
      }
      if (min !== undefined) out.minLength = min
      if (max !== undefined) out.maxLength = max
    } else if (t === 'number' || t === 'integer') {
      Object.assign(out, this.#bounds(t, node, path))
    } else if (t === 'object') {
      const props = node.properties
      const fields: Array<[string, unknown]> = []
      if (props !== undefined) {
        if (!isObject(props)) this.#fail([...path, 'properties'], 'must be an object of schemas')
        else
          for (const [name, s] of Object.entries(props))
            fields.push([name, this.schema(s, [...path, 'properties', name], depth + 1)])
      }
      const extra = node.additionalProperties
      let additional: unknown
      if (extra === undefined) additional = fields.length === 0 ? true : undefined
      else if (typeof extra === 'boolean') additional = extra
      else additional = this.schema(extra, [...path, 'additionalProperties'], depth + 1)
      const required = node.required
      if (required !== undefined) {
        if (!Array.isArray(required) || required.some((r) => typeof r !== 'string'))
          this.#fail([...path, 'required'], 'must be an array of property names')
        else
          for (const [i, r] of required.entries())
            if (!fields.some(([name]) => name === r) && (additional === undefined || additional === false))
              this.#fail([...path, 'required', i], `${JSON.stringify(r)} is not in properties`)
      }
      if (node.propertyNames !== undefined)
        this.#propertyNames(node.propertyNames, [...path, 'propertyNames'])
      const { min, max } = this.#range(node, path, 'minProperties', 'maxProperties')
      // The grammar writes every declared property: fewer allowed than declared cannot be met.
      if (max !== undefined && max < fields.length)
        this.#fail(
          [...path, 'maxProperties'],
          `is less than the ${fields.length} properties, which are all written`,
        )
      if (min !== undefined && min > fields.length && (additional === undefined || additional === false))
        this.#fail(
          [...path, 'minProperties'],
          'asks for more properties than properties and additionalProperties allow',
        )
      // Every property is written, so `required` is met whatever it lists.
      out.properties = Object.fromEntries(fields)
      if (additional !== undefined) out.additionalProperties = additional
      if (min !== undefined) out.minProperties = min
      if (max !== undefined) out.maxProperties = max
    } else if (t === 'array') {
      const items = node.items
      const prefix = node.prefixItems
      let prefixLength = 0
      if (prefix !== undefined) {
        if (!Array.isArray(prefix)) this.#fail([...path, 'prefixItems'], 'must be an array of schemas')
        else {
          prefixLength = prefix.length
          out.prefixItems = prefix.map((s, i) => this.schema(s, [...path, 'prefixItems', i], depth + 1))
        }
      }
      let { min, max } = this.#range(node, path, 'minItems', 'maxItems')
      if (items === false) max = Math.min(max ?? prefixLength, prefixLength)
      else if (Array.isArray(items))
        this.#fail([...path, 'items'], 'a list of item schemas is not supported: use prefixItems')
      else if (items !== undefined) out.items = this.schema(items, [...path, 'items'], depth + 1)
      if (node.uniqueItems !== undefined && typeof node.uniqueItems !== 'boolean')
        this.#fail([...path, 'uniqueItems'], 'must be a boolean')
      else if (node.uniqueItems === true) out.uniqueItems = true
      if (max !== undefined && max < prefixLength)
        this.#fail([...path, 'maxItems'], 'is less than prefixItems, which are all written')
      if (min !== undefined && max !== undefined && min > max)
        this.#fail([...path, 'minItems'], 'is more than the items allowed')
      if (min !== undefined) out.minItems = min
      if (max !== undefined) out.maxItems = max
    }
    return this.issues.length === before ? out : undefined
  }
}

/**
 * The bounds of a number or integer schema in normal form, as the closed range of values they
 * allow (`lo`/`hi` undefined: unbounded; `loOpen`/`hiOpen`: the bound itself is excluded), and
 * whether no value of type `t` is left.
 */
export function numericRange(
  schema: { readonly [key: string]: unknown },
  t: 'number' | 'integer',
): { lo?: number; hi?: number; loOpen: boolean; hiOpen: boolean; empty: boolean } {
  const n = (k: string): number | undefined =>
    typeof schema[k] === 'number' ? (schema[k] as number) : undefined
  const pick = (
    a: number | undefined,
    b: number | undefined,
    higher: boolean,
  ): [number | undefined, boolean] => {
    if (a === undefined) return [b, b !== undefined]
    if (b === undefined) return [a, false]
    return higher ? (b >= a ? [b, true] : [a, false]) : b <= a ? [b, true] : [a, false]
  }
  const [lo, loOpen] = pick(n('minimum'), n('exclusiveMinimum'), true)
  const [hi, hiOpen] = pick(n('maximum'), n('exclusiveMaximum'), false)
  let empty = false
  if (lo !== undefined && hi !== undefined) {
    if (t === 'integer') {
      const a = loOpen ? Math.floor(lo) + 1 : Math.ceil(lo)
      const b = hiOpen ? Math.ceil(hi) - 1 : Math.floor(hi)
      empty = a > b
    } else empty = lo > hi || (lo === hi && (loOpen || hiOpen))
  }
  return {
    ...(lo === undefined ? {} : { lo }),
    ...(hi === undefined ? {} : { hi }),
    loOpen,
    hiOpen,
    empty,
  }
}

/**
 * Checks `schema` against the subset rbee turns into a grammar and returns its normal form, or
 * every issue found (with paths inside the schema).
 */
export function normalizeJsonSchema(schema: unknown): NormalizedSchema {
  const defs = isObject(schema) ? [schema.$defs, schema.definitions].filter((d) => d !== undefined) : []
  const names = new Set<string>()
  const issues: SchemaIssue[] = []
  for (const [i, d] of defs.entries()) {
    const key = isObject(schema) && i === 0 && schema.$defs !== undefined ? '$defs' : 'definitions'
    if (!isObject(d)) issues.push({ path: [key], message: 'must be an object of schemas' })
    else for (const name of Object.keys(d)) names.add(name)
  }
  const n = new Normalizer(names)
  n.issues.push(...issues)
  let root = n.schema(schema, [], 0)
  const defEntries: Array<[string, unknown]> = []
  for (const [i, d] of defs.entries()) {
    if (!isObject(d)) continue
    const key = isObject(schema) && i === 0 && schema.$defs !== undefined ? '$defs' : 'definitions'
    for (const [name, s] of Object.entries(d)) defEntries.push([name, n.schema(s, [key, name], 1)])
  }
  if (n.issues.length > 0 || root === undefined) return { ok: false, issues: n.issues }
  if (defEntries.length > 0) {
    const $defs = Object.fromEntries(defEntries)
    // node-llama-cpp reads $defs on object, array, alternation and reference schemas.
    const carries = root.type === 'object' || root.type === 'array' || 'anyOf' in root || '$ref' in root
    root = carries ? { ...root, $defs } : { anyOf: [root], $defs }
  }
  return { ok: true, schema: root }
}

/** The normal form of "any JSON object" (what `response_format: json_object` asks for). */
export const ANY_JSON_OBJECT: GrammarJsonSchema = {
  type: 'object',
  properties: {},
  additionalProperties: true,
}
