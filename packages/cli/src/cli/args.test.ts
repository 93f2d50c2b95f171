import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type CommandSpec, helpText, numberFlag, parseCommandArgs, UsageError, usageLine } from './args.js'

const spec: CommandSpec = {
  name: 'demo',
  summary: 'A demo command.',
  usage: '[options] NAME',
  positionals: [1, 1],
  json: true,
  flags: {
    count: { type: 'string', short: 'n', value: 'N', env: 'DEMO_COUNT', description: 'how many' },
    tag: { type: 'string', multiple: true, value: 'T', description: 'tags' },
    loud: { type: 'boolean', description: 'shout' },
  },
  examples: ['rbee demo x -n 3'],
}

describe('command-line parsing', () => {
  test('flags, short flags, repeated flags and positionals are read', () => {
    const a = parseCommandArgs(spec, ['x', '-n', '3', '--tag', 'a', '--tag', 'b', '--loud', '--json'], {})
    assert.deepEqual(a.positionals, ['x'])
    assert.equal(a.values.count, '3')
    assert.deepEqual(a.values.tag, ['a', 'b'])
    assert.equal(a.values.loud, true)
    assert.equal(a.values.json, true)
  })

  test('an environment variable fills a flag that was not given, and a flag wins over it', () => {
    assert.equal(parseCommandArgs(spec, ['x'], { DEMO_COUNT: '7' }).values.count, '7')
    assert.ok(parseCommandArgs(spec, ['x'], { DEMO_COUNT: '7' }).fromEnv.has('count'))
    assert.equal(parseCommandArgs(spec, ['x', '-n', '2'], { DEMO_COUNT: '7' }).values.count, '2')
    assert.equal(
      parseCommandArgs(spec, ['x'], { RBEE_QUEEN_URL: 'http://h:1' }).values['queen-url'],
      'http://h:1',
    )
  })

  test('an unknown flag, a missing value and a wrong number of arguments are usage errors', () => {
    assert.throws(
      () => parseCommandArgs(spec, ['x', '--nope'], {}),
      (e) => e instanceof UsageError && /--nope/.test(e.message),
    )
    assert.throws(() => parseCommandArgs(spec, ['x', '--count'], {}), UsageError)
    assert.throws(
      () => parseCommandArgs(spec, [], {}),
      (e) => e instanceof UsageError && /missing NAME/.test(e.message),
    )
    assert.throws(
      () => parseCommandArgs(spec, ['x', 'y'], {}),
      (e) => e instanceof UsageError && /'y'/.test(e.message),
    )
  })

  test('--help needs no positionals', () => {
    assert.equal(parseCommandArgs(spec, ['--help'], {}).values.help, true)
  })

  test('numeric flags are checked for type and range', () => {
    const a = parseCommandArgs(spec, ['x', '-n', '2.5'], {})
    assert.throws(() => numberFlag(spec, a, 'count', { int: true }), /--count must be an integer, not '2.5'/)
    assert.equal(numberFlag(spec, a, 'count', { min: 0 }), 2.5)
    const b = parseCommandArgs(spec, ['x', '--count=-1'], {})
    assert.throws(() => numberFlag(spec, b, 'count', { min: 0, max: 5 }), /between 0 and 5/)
    assert.equal(numberFlag(spec, parseCommandArgs(spec, ['x'], {}), 'count'), undefined)
  })

  test('help lists every flag with its environment variable, and the examples', () => {
    const text = helpText(spec)
    assert.match(text, /^Usage: rbee demo \[options\] NAME\n/)
    assert.match(text, /-n, --count N\s+how many \[DEMO_COUNT\]/)
    assert.match(text, /--queen-url URL .*\[RBEE_QUEEN_URL\]/)
    assert.match(text, /--json/)
    assert.match(text, /Examples:\n {2}rbee demo x -n 3/)
    assert.equal(usageLine(spec), 'rbee demo [options] NAME')
  })
})
