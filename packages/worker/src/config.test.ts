import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ConfigError, parseWorkerConfig } from './config.js'

const model = process.execPath // any existing file passes the "exists" check

test('flags win over environment variables, which win over defaults', () => {
  const c = parseWorkerConfig(['--model', model, '--slots', '3'], { RBEE_SLOTS: '5', RBEE_CTX_SIZE: '1024' })
  assert.equal(c.slots, 3)
  assert.equal(c.ctx_size, 1024)
  assert.equal(c.port, 0)
  assert.equal(c.host, '127.0.0.1')
  assert.equal(c.backend, 'auto')
  assert.ok(c.threads >= 1)
})

test('the model ref defaults to the file name without .gguf', () => {
  const c = parseWorkerConfig(['--model', model], {})
  assert.equal(c.model_ref, 'node')
})

test('a wrong value is reported by its flag name', () => {
  assert.throws(
    () => parseWorkerConfig(['--model', model, '--slots', '0', '--queen-url', 'not a url'], {}),
    (e: unknown) => e instanceof ConfigError && /--slots/.test(e.message) && /--queen-url/.test(e.message),
  )
  assert.throws(
    () => parseWorkerConfig(['--model', model, '--worker-id', '../x'], {}),
    (e: unknown) => e instanceof ConfigError && /--worker-id/.test(e.message),
  )
  assert.throws(
    () => parseWorkerConfig([], {}),
    (e: unknown) => e instanceof ConfigError && /--model/.test(e.message),
  )
})

test('--device takes one GPU index or a list of them, from the flag or RBEE_DEVICE', () => {
  assert.deepEqual(parseWorkerConfig(['--model', model], {}).device, [0])
  assert.deepEqual(parseWorkerConfig(['--model', model, '--device', '1'], {}).device, [1])
  assert.deepEqual(parseWorkerConfig(['--model', model, '--device', '0,1'], {}).device, [0, 1])
  assert.deepEqual(parseWorkerConfig(['--model', model], { RBEE_DEVICE: '2,0,3' }).device, [2, 0, 3])
  for (const bad of ['0,0', 'a', '1,', '-1', '64', ' 0']) {
    assert.throws(
      () => parseWorkerConfig(['--model', model, '--device', bad], {}),
      (e: unknown) => e instanceof ConfigError && /--device/.test(e.message),
      `--device ${JSON.stringify(bad)} was taken`,
    )
  }
})

test('--warmup is auto unless set to on or off', () => {
  assert.equal(parseWorkerConfig(['--model', model], {}).warmup, 'auto')
  assert.equal(parseWorkerConfig(['--model', model, '--warmup', 'on'], {}).warmup, 'on')
  assert.equal(parseWorkerConfig(['--model', model], { RBEE_WARMUP: 'off' }).warmup, 'off')
  assert.throws(
    () => parseWorkerConfig(['--model', model, '--warmup', 'yes'], {}),
    (e: unknown) => e instanceof ConfigError && /--warmup/.test(e.message),
  )
})
