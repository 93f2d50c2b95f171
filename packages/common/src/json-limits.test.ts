import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { RbeeError } from './errors.js'
import { jsonNestsDeeperThan, MAX_JSON_DEPTH, parseJson } from './json-limits.js'

const nested = (depth: number, open = '[', close = ']'): string => open.repeat(depth) + close.repeat(depth)

/** The nesting depth of a parsed value, walked without recursion. */
function depthOf(value: unknown): number {
  let max = 0
  const stack: Array<[unknown, number]> = [[value, 0]]
  while (stack.length > 0) {
    const [v, d] = stack.pop()!
    if (v === null || typeof v !== 'object') continue
    max = Math.max(max, d + 1)
    for (const child of Object.values(v)) stack.push([child, d + 1])
  }
  return max
}

describe('JSON nesting limit', () => {
  test('nesting up to the limit passes and one level more is refused, for arrays and objects', () => {
    assert.equal(jsonNestsDeeperThan(nested(MAX_JSON_DEPTH)), false)
    assert.equal(jsonNestsDeeperThan(nested(MAX_JSON_DEPTH + 1)), true)
    const objects = (d: number): string => `${'{"a":'.repeat(d)}1${'}'.repeat(d)}`
    assert.equal(jsonNestsDeeperThan(objects(MAX_JSON_DEPTH)), false)
    assert.equal(jsonNestsDeeperThan(objects(MAX_JSON_DEPTH + 1)), true)
  })

  test('brackets inside strings, escaped quotes included, do not count', () => {
    const text = JSON.stringify({ a: '['.repeat(1000), b: `\\"${'{'.repeat(1000)}`, c: [[1]] })
    assert.equal(jsonNestsDeeperThan(text), false)
    assert.equal(jsonNestsDeeperThan(text, 3), false)
    assert.equal(jsonNestsDeeperThan(text, 2), true)
  })

  test('the scan agrees with the depth of the parsed value on generated JSON', () => {
    let seed = 7
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648
      return seed % n
    }
    const gen = (d: number): unknown => {
      const k = rand(d > 6 ? 3 : 6)
      if (k === 0) return 'x"[{\\'.slice(0, rand(6))
      if (k === 1) return rand(100)
      if (k === 2) return null
      if (k === 3) return Array.from({ length: rand(3) }, () => gen(d + 1))
      return Object.fromEntries(Array.from({ length: rand(3) }, (_, i) => [`k${i}]"`, gen(d + 1)]))
    }
    for (let i = 0; i < 500; i++) {
      const text = JSON.stringify(gen(0))
      const depth = depthOf(JSON.parse(text))
      assert.equal(jsonNestsDeeperThan(text, depth), false, text)
      if (depth > 0) assert.equal(jsonNestsDeeperThan(text, depth - 1), true, text)
    }
  })

  test('two million levels are refused by name, without overflowing the stack', () => {
    assert.throws(
      () => parseJson(`{"model":"tiny","x":${nested(2_000_000)}}`),
      (err) =>
        err instanceof RbeeError &&
        err.code === 'RBEE_BAD_REQUEST' &&
        err.message.includes(`deeper than ${MAX_JSON_DEPTH} levels`),
    )
    assert.deepEqual(parseJson('{"a":[1,{"b":2}]}'), { a: [1, { b: 2 }] })
    assert.throws(() => parseJson('{"a":'), SyntaxError)
  })
})
