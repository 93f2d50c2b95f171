import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { RbeeError } from '@rbee/common'
import type { GrammarJsonSchema } from '@rbee/contracts'
import { formatGrammar } from './format-grammar.js'
import { integerRangeGrammar, numberRangeGrammar } from './numeric-grammar.js'
import { findViolation, validatorOf } from './output-check.js'
import { patternGrammar } from './pattern-grammar.js'
import { grammarHoldsSchema, nodeGrammar } from './schema-grammar.js'

/**
 * A JavaScript regular expression of the GBNF these grammars are written in (literals, classes,
 * groups, alternation, repetition: no rule references), to test which texts a grammar allows.
 */
function gbnfRegex(gbnf: string): RegExp {
  let out = ''
  let i = 0
  const hex = (n: number): string => {
    const cp = Number.parseInt(gbnf.slice(i, i + n), 16)
    i += n
    return `\\u{${cp.toString(16)}}`
  }
  const decodeEscape = (inClass: boolean): string => {
    const c = gbnf[i++]!
    if (c === 'x') return hex(2)
    if (c === 'u') return hex(4)
    if (c === 'U') return hex(8)
    const plain = ({ n: '\n', r: '\r', t: '\t' } as Record<string, string>)[c] ?? c
    return inClass ? `\\u{${plain.codePointAt(0)!.toString(16)}}` : plain
  }
  while (i < gbnf.length) {
    const c = gbnf[i++]!
    if (c === ' ') continue
    if (c === '"') {
      let lit = ''
      while (gbnf[i] !== '"') {
        const d = gbnf[i++]!
        lit += d === '\\' ? decodeEscape(false) : d
      }
      i++
      out += `(?:${lit.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')})`
    } else if (c === '[') {
      out += '['
      if (gbnf[i] === '^') out += gbnf[i++]
      while (gbnf[i] !== ']') {
        const d = gbnf[i++]!
        out += d === '\\' ? decodeEscape(true) : d === '-' ? '-' : `\\u{${d.codePointAt(0)!.toString(16)}}`
      }
      i++
      out += ']'
    } else if (c === '(') out += '(?:'
    else out += c
  }
  return new RegExp(`^(?:${out})$`, 'u')
}

const allows = (gbnf: string | undefined, text: string): boolean => {
  assert.ok(gbnf !== undefined)
  return gbnfRegex(gbnf).test(text)
}

describe('grammars of numeric bounds', () => {
  test('an integer range allows exactly the integers within it, written as JSON writes them', () => {
    for (const [lo, hi] of [
      [3, 117],
      [0, 255],
      [-40, -7],
      [-15, 1000],
      [1, 1],
      [0, 0],
    ] as const) {
      const g = gbnfRegex(integerRangeGrammar(lo, hi)!)
      for (let n = -1100; n <= 1100; n++)
        assert.equal(g.test(String(n)), n >= lo && n <= hi, `${n} in [${lo}, ${hi}]`)
      assert.ok(!g.test(`0${lo}`) || lo === 0, 'no leading zeros')
      assert.ok(!g.test('-0'), 'no negative zero')
    }
  })

  test('open ends and the largest bounds agents send: up to 16 digits, none past a bound', () => {
    const above = gbnfRegex(integerRangeGrammar(1, Number.POSITIVE_INFINITY)!)
    for (const s of ['1', '9', '10', '600000', '9007199254740991', '9999999999999999'])
      assert.ok(above.test(s), s)
    for (const s of ['0', '-1', '01', '10000000000000000']) assert.ok(!above.test(s), s)
    const claude = gbnfRegex(integerRangeGrammar(1, 9007199254740991)!)
    assert.ok(claude.test('9007199254740991') && claude.test('42'))
    assert.ok(!claude.test('9007199254740992') && !claude.test('9999999999999999'))
    const below = gbnfRegex(integerRangeGrammar(Number.NEGATIVE_INFINITY, -3)!)
    assert.ok(below.test('-3') && below.test('-123456') && !below.test('-2') && !below.test('5'))
  })

  test('a number range allows fractions within it and nothing beyond its ends', () => {
    const g = gbnfRegex(numberRangeGrammar(-2, 10)!)
    for (const s of ['0', '-0.5', '-1.999', '-2', '9.75', '10', '3.0'])
      assert.ok(g.test(s) && Number(s) >= -2 && Number(s) <= 10, s)
    for (const s of ['10.5', '-2.5', '11', '1e3', '-3']) assert.ok(!g.test(s), s)
    const timeout = gbnfRegex(numberRangeGrammar(0, 600000)!)
    assert.ok(
      timeout.test('30000') && timeout.test('599999.5') && !timeout.test('600000.5') && !timeout.test('-1'),
    )
  })

  test('a node with bounds gets rbee grammar; bounds between whole numbers round inward', () => {
    const g = gbnfRegex(nodeGrammar({ type: 'integer', exclusiveMinimum: 0, maximum: 5 })!)
    assert.deepEqual(
      ['0', '1', '5', '6'].map((s) => g.test(s)),
      [false, true, true, false],
    )
    const n = gbnfRegex(nodeGrammar({ type: 'number', minimum: 0.5, maximum: 2.5 })!)
    assert.ok(n.test('1') && n.test('2') && n.test('1.25') && !n.test('0') && !n.test('2.5') && !n.test('3'))
    assert.equal(nodeGrammar({ type: 'number', minimum: 0.2, maximum: 0.8 }), undefined)
    assert.equal(nodeGrammar({ type: 'integer' }), undefined)
  })
})

describe('grammars of patterns', () => {
  const cases: Array<[string, string[], string[]]> = [
    ['^[A-Z]{3}-\\d{2}$', ['ABC-12'], ['abc-12', 'ABC-1', 'xABC-12']],
    ['^(red|green)+$', ['red', 'greenred'], ['', 'blue', 'redx']],
    ['^a.c$', ['abc', 'a-c', 'a\\"c'], ['a\\nc', 'ac']],
    ['^\\w+@\\w+\\.com$', ['me@site.com'], ['me@site.org', '@site.com']],
    ['^[^a-z]*$', ['ABC 1', '\\"', '\\\\'], ['aBC']],
    ['^x?y*z+$', ['z', 'xyyz', 'zz'], ['x', 'xy']],
    ['^(?:ab){2,3}$', ['abab', 'ababab'], ['ab', 'abababab']],
    ['^(?<n>[0-9])\\.$', ['7.'], ['77.']],
    ['^"q"\\\\$', ['\\"q\\"\\\\'], ['"q"\\\\']],
    ['ab', ['ab', 'xxabyy'], ['a b']],
  ]
  for (const [pattern, yes, no] of cases)
    test(`${pattern} allows the JSON strings whose value matches it`, () => {
      const g = gbnfRegex(patternGrammar(pattern)!)
      const re = new RegExp(pattern, 'u')
      for (const body of yes) {
        assert.ok(g.test(`"${body}"`), `allows "${body}"`)
        assert.ok(re.test(JSON.parse(`"${body}"`)), `and "${body}" matches`)
      }
      for (const body of no) assert.ok(!g.test(`"${body}"`), `not "${body}"`)
    })

  test('what is beyond the subset is left to the check after generation', () => {
    for (const p of ['(?=a)b', '(a)\\1', '\\bword', '\\p{L}+', '^a|b$', 'a{1000}', 'x^y', '[\\D]'])
      assert.equal(patternGrammar(p), undefined, p)
  })
})

describe('grammars of formats', () => {
  test('uri, email, uuid and ipv4 allow what their validators accept and not the rest', () => {
    assert.ok(allows(formatGrammar('uri'), '"https://example.com:8080/a/b%20c?q=1&r=/x#top"'))
    assert.ok(!allows(formatGrammar('uri'), '"example.com"'))
    assert.ok(!allows(formatGrammar('uri'), '"http://a b"'))
    assert.ok(allows(formatGrammar('email'), '"first.last+tag@mail.example.org"'))
    assert.ok(!allows(formatGrammar('email'), '"no-at.example.org"'))
    assert.ok(allows(formatGrammar('uuid'), '"123e4567-e89b-12d3-a456-426614174000"'))
    assert.ok(!allows(formatGrammar('uuid'), '"123e4567e89b12d3a456426614174000"'))
    assert.ok(allows(formatGrammar('ipv4'), '"192.168.0.255"'))
    assert.ok(!allows(formatGrammar('ipv4'), '"256.1.1.1"') && !allows(formatGrammar('ipv4'), '"01.1.1.1"'))
    assert.equal(formatGrammar('date'), undefined, "node-llama-cpp's own")
  })
})

describe('which schemas the grammar holds whole', () => {
  test('bounds, simple patterns and formats stream; multipleOf, uniqueItems and the rest are checked after', () => {
    const held = {
      type: 'object',
      properties: {
        n: { type: 'integer', minimum: 1, maximum: 9 },
        p: { type: 'string', pattern: '^[a-z]+$' },
        u: { anyOf: [{ type: 'string', format: 'uri' }, { type: 'null' }] },
      },
    }
    assert.equal(grammarHoldsSchema(held, true), true)
    assert.equal(
      grammarHoldsSchema(held, false),
      false,
      'without the patched grammar, bounds are only checked',
    )
    for (const node of [
      { type: 'integer', multipleOf: 5 },
      { type: 'array', items: { type: 'string' }, uniqueItems: true },
      { type: 'string', pattern: '(?=a)a' },
      { type: 'string', pattern: '^a+$', maxLength: 3 },
      { type: 'number', exclusiveMinimum: 0 },
      { type: 'string', format: 'date', minLength: 10 },
    ])
      assert.equal(
        grammarHoldsSchema({ type: 'object', properties: { x: node }, $defs: {} }, true),
        false,
        JSON.stringify(node),
      )
  })
})

describe('the check after generation', () => {
  test('a pattern that would backtrack exponentially is checked in linear time', () => {
    const schema = { type: 'string', pattern: '^(a+)+$' } as GrammarJsonSchema
    const started = performance.now()
    const v = findViolation(schema, JSON.stringify(`${'a'.repeat(5000)}b`))
    assert.equal(v?.keyword, 'pattern')
    // A backtracking engine takes longer than the age of the universe here; linear: microseconds.
    assert.ok(performance.now() - started < 2000)
  })

  test('a pattern the linear engine cannot run is refused before generation, naming the field', () => {
    assert.throws(
      () => validatorOf({ type: 'string', pattern: '^(?=a)a+$' } as GrammarJsonSchema, 'tools.f.parameters'),
      (err: unknown) =>
        err instanceof RbeeError &&
        err.code === 'RBEE_VALIDATION' &&
        /tools\.f\.parameters/.test(err.message),
    )
  })
})
