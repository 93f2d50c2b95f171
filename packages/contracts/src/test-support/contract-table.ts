import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { z } from 'zod'
import { fieldIssues } from '../validation.js'

/** A valid example: what it is, the schema, the value. */
export type Valid = readonly [what: string, schema: z.ZodType, value: unknown]
/** An invalid example: what is wrong, the schema, the value, the field path the issue must name. */
export type Invalid = readonly [what: string, schema: z.ZodType, value: unknown, path: string]

/**
 * Parses `value`, checks that it survives a JSON round trip (the raw value and the parsed one
 * both parse to the same result) and returns the parsed value.
 */
export function roundTrips<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const parsed = schema.parse(value)
  assert.deepEqual(schema.parse(JSON.parse(JSON.stringify(value))), parsed)
  assert.deepEqual(schema.parse(JSON.parse(JSON.stringify(parsed))), parsed)
  return parsed
}

/** Asserts that `schema` rejects `value` and returns the field paths of its issues. */
export function issuePaths(schema: z.ZodType, value: unknown): string[] {
  const result = schema.safeParse(value)
  if (result.success) assert.fail(`expected a rejection, got ${JSON.stringify(result.data)}`)
  return fieldIssues(result.error).map((i) => i.path)
}

/** Asserts that `schema` rejects `value` with an issue at `path`. */
export function rejectsAt(schema: z.ZodType, value: unknown, path: string): void {
  const paths = issuePaths(schema, value)
  assert.ok(paths.includes(path), `expected an issue at ${path}, got ${paths.join(', ')}`)
}

/**
 * One test per example of a contract table: each valid value is accepted unchanged through a JSON
 * round trip, each invalid one is rejected with an issue naming its field path. `subject` starts
 * the test names (`hive contracts` → `hive contracts accept …`, `hive contracts reject …`).
 */
export function contractTable(subject: string, valid: readonly Valid[], invalid: readonly Invalid[]): void {
  for (const [what, schema, value] of valid) {
    test(`${subject} accept ${what} unchanged through a JSON round trip`, () => {
      assert.deepEqual(roundTrips(schema, value), value)
    })
  }
  for (const [what, schema, value, path] of invalid) {
    test(`${subject} reject ${what}, naming ${path}`, () => rejectsAt(schema, value, path))
  }
}
