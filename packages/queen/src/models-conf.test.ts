import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { RbeeError } from '@rbee/common'
import { DEFAULT_MODEL_POLICY, modelPolicy, parseModelsConf } from './models-conf.js'

describe('models.conf', () => {
  test('parses blocks per model, with * for the others', () => {
    const conf = parseModelsConf(`# policies
Model *
  ttl 5m
Model llama-3.1-8b
    pin yes
    max_replicas 4
    ttl 0
    priority high
Model qwen
  MinReplicas 2
  priority -20
  ttl 500ms
`)
    assert.deepEqual(modelPolicy(conf, 'llama-3.1-8b'), {
      pin: true,
      minReplicas: 1,
      maxReplicas: 4,
      ttlMs: 0,
      priority: 10,
    })
    assert.deepEqual(modelPolicy(conf, 'qwen'), {
      ...DEFAULT_MODEL_POLICY,
      minReplicas: 2,
      priority: -20,
      ttlMs: 500,
    })
    assert.deepEqual(modelPolicy(conf, 'other'), { ...DEFAULT_MODEL_POLICY, ttlMs: 300_000 })
    assert.deepEqual(modelPolicy(new Map(), 'x'), DEFAULT_MODEL_POLICY)
  })

  test('a key and its value are separated by spaces, by = or by both', () => {
    for (const line of ['ttl 30m', 'ttl=30m', 'ttl = 30m', '\tttl\t=  30m']) {
      assert.equal(modelPolicy(parseModelsConf(`Model a\n  ${line}\n`), 'a').ttlMs, 1_800_000, line)
    }
    assert.throws(() => parseModelsConf('Model a\n  ttl == 30m'), /expected "key value"/)
  })

  test("a model's own block does not inherit from Model *", () => {
    const conf = parseModelsConf('Model *\n  ttl 5m\n  priority low\nModel a\n  max_replicas 2\n')
    assert.deepEqual(modelPolicy(conf, 'a'), { ...DEFAULT_MODEL_POLICY, maxReplicas: 2 })
    assert.equal(modelPolicy(conf, 'b').ttlMs, 300_000)
  })

  test('a malformed file is refused with its line named', () => {
    const bad: Array<[string, RegExp]> = [
      ['pin yes', /^m\.conf:1: pin before any "Model <id>" line$/],
      ['Model a\n  pin maybe', /^m\.conf:2: pin must be yes or no$/],
      ['Model a\n\n  ttl 5 minutes', /^m\.conf:3: expected "key value"/],
      ['Model a\n  ttl 5d', /^m\.conf:2: ttl must be a duration/],
      ['Model a\n  priority urgent', /^m\.conf:2: priority must be low, normal, high or an integer/],
      ['Model a\n  max_replicas 0', /^m\.conf:2: max_replicas must be an integer from 1/],
      [
        'Model a\n  min_replicas 3\n  max_replicas 2',
        /^m\.conf:1: Model a: min_replicas is above max_replicas$/,
      ],
      ['Model a\nModel a', /^m\.conf:2: Model a has a block already$/],
      ['Model a\n  replicas 2', /^m\.conf:2: unknown key "replicas"/],
      ['Model *\n  ttl 5m\n  pin yes', /^m\.conf:3: pin in "Model \*" would keep every model up/],
      ['Model *\n  min_replicas=1', /^m\.conf:2: min_replicas in "Model \*" would keep every model up/],
    ]
    for (const [text, message] of bad) {
      assert.throws(
        () => parseModelsConf(text, 'm.conf'),
        (err: unknown) => err instanceof RbeeError && err.code === 'RBEE_CONFIG' && message.test(err.message),
        text,
      )
    }
  })
})
