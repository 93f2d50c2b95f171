import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MAX_SCHEMA_DEPTH, normalizeJsonSchema } from './json-schema-subset.js'

const ok = (schema: unknown) => {
  const r = normalizeJsonSchema(schema)
  assert.ok(r.ok, JSON.stringify(r))
  return r.schema
}
const refused = (schema: unknown): string[] => {
  const r = normalizeJsonSchema(schema)
  assert.ok(!r.ok, `expected a refusal, got ${JSON.stringify(r)}`)
  return r.issues.map((i) => `${i.path.join('.')}: ${i.message}`)
}

test('a pydantic-style schema with $defs, an optional field and a date comes out in normal form', () => {
  const schema = {
    title: 'Event',
    type: 'object',
    properties: {
      name: { title: 'Name', type: 'string', maxLength: 80 },
      day: { type: 'string', format: 'date' },
      venue: { anyOf: [{ $ref: '#/$defs/Venue' }, { type: 'null' }], default: null },
      tags: { type: 'array', items: { type: 'string', enum: ['a', 'b'] }, maxItems: 3 },
    },
    required: ['name', 'day', 'venue', 'tags'],
    additionalProperties: false,
    $defs: {
      Venue: {
        type: 'object',
        properties: { city: { type: 'string', description: 'where' } },
        required: ['city'],
      },
    },
  }
  assert.deepEqual(ok(schema), {
    type: 'object',
    properties: {
      name: { type: 'string', maxLength: 80 },
      day: { type: 'string', format: 'date' },
      venue: { anyOf: [{ $ref: '#/$defs/Venue' }, { type: 'null' }] },
      tags: { type: 'array', items: { enum: ['a', 'b'] }, maxItems: 3 },
    },
    additionalProperties: false,
    $defs: { Venue: { type: 'object', properties: { city: { description: 'where', type: 'string' } } } },
  })
})

test('a list of types becomes one branch per type, each with its own keywords', () => {
  assert.deepEqual(ok({ type: ['integer', 'array', 'null'], items: { type: 'boolean' }, maxItems: 2 }), {
    anyOf: [
      { type: 'integer' },
      { type: 'array', items: { type: 'boolean' }, maxItems: 2 },
      { type: 'null' },
    ],
  })
})

test('an empty schema and an object without properties allow any value and any keys', () => {
  assert.ok(Array.isArray(ok({}).anyOf))
  assert.deepEqual(ok({ type: 'object' }), { type: 'object', properties: {}, additionalProperties: true })
  assert.deepEqual(ok({ definitions: { A: { type: 'boolean' } }, $ref: '#/definitions/A' }), {
    $ref: '#/$defs/A',
    $defs: { A: { type: 'boolean' } },
  })
})

test('every keyword rbee cannot honour, or a malformed one, is refused at its path, all at once', () => {
  const issues = refused({
    type: 'object',
    properties: {
      n: { type: 'number', minimum: 'zero', multipleOf: 0 },
      s: { type: 'string', pattern: '(', format: 'hostname' },
      u: { oneOf: [{ type: 'string' }, { type: 'integer' }] },
      l: { type: 'array', uniqueItems: 'yes', items: [{ type: 'string' }] },
      p: { type: 'object', propertyNames: { pattern: '^a' } },
      r: { $ref: 'https://example.com/s.json' },
      m: { allOf: [{ type: 'string' }] },
      x: { type: 'string', nullable: true },
      c: { const: { a: 1 } },
    },
    patternProperties: { '^a': { type: 'string' } },
  })
  for (const path of [
    'properties.n.minimum',
    'properties.n.multipleOf',
    'properties.s.pattern',
    'properties.s.format',
    'properties.u.oneOf',
    'properties.l.uniqueItems',
    'properties.p.propertyNames',
    'properties.l.items',
    'properties.r.$ref',
    'properties.m.allOf',
    'properties.x.nullable',
    'properties.c.const',
    'patternProperties',
  ])
    assert.ok(
      issues.some((i) => i.startsWith(`${path}: `)),
      `${path} in ${issues.join(' | ')}`,
    )
})

test('schemas that cannot be met are refused: bounds crossed, fewer properties than written, refs to nothing', () => {
  assert.deepEqual(refused({ type: 'string', minLength: 5, maxLength: 2 }), [
    'minLength: minLength is more than maxLength',
  ])
  assert.match(
    refused({
      type: 'object',
      properties: { a: { type: 'string' }, b: { type: 'string' } },
      maxProperties: 1,
    })[0]!,
    /^maxProperties: /,
  )
  assert.match(
    refused({ type: 'object', properties: {}, additionalProperties: false, required: ['a'] })[0]!,
    /^required\.0: /,
  )
  assert.match(refused({ $ref: '#/$defs/Nope' })[0]!, /names no definition/)
  assert.match(
    refused({ type: 'object', properties: { a: { $defs: {} } } })[0]!,
    /only supported at the root/,
  )
  assert.match(refused({ enum: ['a', 1], type: 'string' })[0]!, /^enum\.1: /)
  assert.match(refused({ type: 'strng' })[0]!, /^type: /)
})

test(`a schema nested deeper than ${MAX_SCHEMA_DEPTH} levels is refused instead of walked`, () => {
  let deep: unknown = { type: 'string' }
  for (let i = 0; i < MAX_SCHEMA_DEPTH + 5; i++) deep = { type: 'array', items: deep }
  assert.ok(refused(deep).some((i) => /nests deeper than/.test(i)))
})

test('a property named __proto__ stays a property', () => {
  const schema = JSON.parse('{"type":"object","properties":{"__proto__":{"type":"string"}}}')
  const out = ok(schema) as { properties: Record<string, unknown> }
  assert.deepEqual(Object.keys(out.properties), ['__proto__'])
  assert.equal(Object.getPrototypeOf(out.properties), Object.prototype)
})

test('numeric bounds, multipleOf, pattern, the added formats and uniqueItems are kept for the grammar and the check', () => {
  const kept = {
    turns: { type: 'integer', exclusiveMinimum: 0, maximum: 9007199254740991 },
    step: { type: 'number', multipleOf: 0.5 },
    code: { type: 'string', pattern: '^[A-Z]{3}-\\d{2}$', minLength: 6 },
    url: { type: 'string', format: 'uri' },
    ids: { type: 'array', items: { type: 'string', format: 'uuid' }, uniqueItems: true },
  }
  const email = { type: 'string', format: 'email' }
  const normal = ok({
    type: 'object',
    properties: {
      ...kept,
      timeout: { type: 'number', minimum: 0, maximum: 600000, default: 30000 },
      old: { type: 'number', minimum: 1, exclusiveMinimum: true, maximum: 2, exclusiveMaximum: false },
      map: { type: 'object', propertyNames: { type: 'string' }, additionalProperties: email },
    },
  })
  assert.deepEqual(normal.properties, {
    ...kept,
    timeout: { type: 'number', minimum: 0, maximum: 600000 },
    old: { type: 'number', exclusiveMinimum: 1, maximum: 2 },
    map: { type: 'object', properties: {}, additionalProperties: email },
  })
  // A dialect's request is checked again as a chat request: the normal form is taken as it is.
  assert.deepEqual(ok(normal), normal)
  assert.deepEqual(ok(ok({ type: ['string', 'null'] })), ok({ type: ['string', 'null'] }))
})

test('bounds no value can meet and patterns that do not compile are refused at their path', () => {
  assert.deepEqual(refused({ type: 'integer', exclusiveMinimum: 1, exclusiveMaximum: 2 }), [
    'exclusiveMinimum: no integer is within the bounds',
  ])
  assert.deepEqual(refused({ type: 'number', minimum: 3, maximum: 2 }), [
    'minimum: no number is within the bounds',
  ])
  assert.deepEqual(refused({ type: 'number', exclusiveMaximum: true }), [
    'exclusiveMaximum: exclusive bound without maximum',
  ])
  assert.match(refused({ type: 'string', pattern: '[a-' })[0]!, /^pattern: is not a valid regular expression/)
  assert.match(refused({ type: 'string', pattern: 'a'.repeat(1001) })[0]!, /^pattern: is longer than 1000/)
  assert.match(
    refused({ type: 'integer', maximum: Number.POSITIVE_INFINITY })[0]!,
    /^maximum: must be a finite number/,
  )
})
