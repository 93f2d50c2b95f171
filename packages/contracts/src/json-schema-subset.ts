/**
 * The part of JSON Schema that rbee turns into a grammar (node-llama-cpp's JSON-schema grammar,
 * which tool-call arguments and structured output are generated under), and its normal form.
 *
 * A schema is checked once, where it enters (a request's `response_format`, a tool's
 * `parameters`): every keyword is either honoured by the grammar or refused with its path, so
 * what the model writes always parses and validates against the schema the client sent. The
 * normal form is what the grammar is built from: `anyOf` becomes node-llama-cpp's `oneOf` (its
 * alternation, so `anyOf`'s meaning), a list of types becomes one branch per type, definitions
 * move to the root's `$defs`, and annotations other than `description` are dropped.
 *
 * Refused, with why: `oneOf` (an alternation cannot make exactly one branch match: use `anyOf`),
 * `allOf`, `not`, `if`/`then`/`else`, `pattern`, `patternProperties`, numeric bounds
 * (`minimum`, `maximum`, `exclusive*`, `multipleOf`), `uniqueItems: true`, `contains`, string
 * formats other than `date`, `time` and `date-time`, `$ref` other than to the root's `$defs` or
 * `definitions`, and any keyword JSON Schema does not define.
 */

/** A schema in normal form: plain JSON that node-llama-cpp's `GbnfJsonSchema` type describes. */
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

/** The keywords each type takes (beyond `type` and annotations). */
const TYPE_KEYWORDS: Record<JsonType, ReadonlySet<string>> = {
  string: new Set(['minLength', 'maxLength', 'format']),
  number: new Set(),
  integer: new Set(),
  boolean: new Set(),
  null: new Set(),
  object: new Set(['properties', 'required', 'additionalProperties', 'minProperties', 'maxProperties']),
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
  ['pattern', 'pattern is not supported'],
  ['patternProperties', 'patternProperties is not supported'],
  ['propertyNames', 'propertyNames is not supported'],
  ['unevaluatedProperties', 'unevaluatedProperties is not supported'],
  ['unevaluatedItems', 'unevaluatedItems is not supported'],
  ['dependentRequired', 'dependentRequired is not supported'],
  ['dependentSchemas', 'dependentSchemas is not supported'],
  ['dependencies', 'dependencies is not supported'],
  ['minimum', 'minimum is not supported (numbers are not bounded by the grammar)'],
  ['maximum', 'maximum is not supported (numbers are not bounded by the grammar)'],
  ['exclusiveMinimum', 'exclusiveMinimum is not supported (numbers are not bounded by the grammar)'],
  ['exclusiveMaximum', 'exclusiveMaximum is not supported (numbers are not bounded by the grammar)'],
  ['multipleOf', 'multipleOf is not supported'],
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

const FORMATS = new Set(['date', 'time', 'date-time'])
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
  oneOf: [
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
      return branches.every((b) => b !== undefined) ? { ...described, oneOf: branches } : undefined
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
    return branches.length === 1 ? { ...described, ...branches[0] } : { ...described, oneOf: branches }
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
            `format ${JSON.stringify(node.format)} is not supported (date, time and date-time are)`,
          )
        else if (min !== undefined || max !== undefined)
          this.#fail([...path, 'format'], 'format cannot be combined with minLength or maxLength')
        else out.format = node.format
      }
      if (min !== undefined) out.minLength = min
      if (max !== undefined) out.maxLength = max
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
      if (node.uniqueItems !== undefined && node.uniqueItems !== false)
        this.#fail([...path, 'uniqueItems'], 'uniqueItems is not supported')
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
    const carries = root.type === 'object' || root.type === 'array' || 'oneOf' in root || '$ref' in root
    root = carries ? { ...root, $defs } : { oneOf: [root], $defs }
  }
  return { ok: true, schema: root }
}

/** The normal form of "any JSON object" (what `response_format: json_object` asks for). */
export const ANY_JSON_OBJECT: GrammarJsonSchema = {
  type: 'object',
  properties: {},
  additionalProperties: true,
}
