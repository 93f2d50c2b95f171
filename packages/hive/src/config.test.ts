import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { ConfigError, parseHiveConfig } from './config.js'

test('defaults: loopback, port 7835, on-failure restarts, the data dir under XDG_DATA_HOME', () => {
  const c = parseHiveConfig([], { XDG_DATA_HOME: '/data' })
  assert.equal(c.host, '127.0.0.1')
  assert.equal(c.port, 7835)
  assert.equal(c.home, '/data/rbee')
  assert.equal(c.restart_policy, 'on-failure')
  assert.equal(c.max_restarts, 5)
  assert.equal(c.telemetry_interval_ms, 1000)
  assert.equal(c.hf_endpoint, 'https://huggingface.co')
  assert.equal(c.queen_url, undefined)
})

test('every flag has an environment variable, and a flag wins over it', () => {
  const env = {
    RBEE_HOST: '10.0.0.12',
    RBEE_PORT: '9000',
    RBEE_HIVE_ID: 'gpu-box',
    RBEE_QUEEN_URL: 'http://queen:7833',
    RBEE_ADVERTISE_URL: 'http://gpu-box.lan:9000',
    RBEE_HOME: '/srv/rbee',
    RBEE_NODE_TOKEN: 'secret-token',
    RBEE_TELEMETRY_INTERVAL_MS: '250',
    RBEE_RESTART_POLICY: 'always',
    HF_ENDPOINT: 'http://mirror.local',
    HF_TOKEN: 'hf_abc',
  }
  const c = parseHiveConfig([], env)
  assert.deepEqual(
    [
      c.host,
      c.port,
      c.hive_id,
      c.queen_url,
      c.advertise_url,
      c.home,
      c.token,
      c.telemetry_interval_ms,
      c.restart_policy,
    ],
    [
      '10.0.0.12',
      9000,
      'gpu-box',
      'http://queen:7833',
      'http://gpu-box.lan:9000',
      '/srv/rbee',
      'secret-token',
      250,
      'always',
    ],
  )
  assert.deepEqual([c.hf_endpoint, c.hf_token], ['http://mirror.local', 'hf_abc'])
  const flagged = parseHiveConfig(['--port', '0', '--hive-id', 'other'], env)
  assert.deepEqual([flagged.port, flagged.hive_id], [0, 'other'])
})

test('bad values are refused with the flag named', () => {
  const bad: Array<[string[], RegExp]> = [
    [['--port=-1'], /^--port: Too small/],
    [['--telemetry-interval-ms', '10'], /^--telemetry-interval-ms: Too small/],
    [['--advertise-url', 'ftp://x'], /^--advertise-url: /],
    [['--hive-id', 'a/b'], /^--hive-id: /],
    [['--port'], /argument missing/],
    [['--port', '70000'], /^--port: Too big/],
    [['--restart-policy', 'sometimes'], /^--restart-policy: Invalid option/],
    [['--queen-url', 'not a url'], /^--queen-url: Invalid URL/],
    [['--token', 'short'], /^--token: must be at least 8 characters/],
  ]
  for (const [argv, message] of bad) {
    assert.throws(
      () => parseHiveConfig(argv, {}),
      (err: unknown) => err instanceof ConfigError && message.test(err.message),
      argv.join(' '),
    )
  }
})

test('--import-dir repeats, RBEE_IMPORT_DIRS is comma-separated, and relative dirs become absolute', () => {
  assert.deepEqual(parseHiveConfig([], {}).import_dirs, [])
  assert.deepEqual(parseHiveConfig([], { RBEE_IMPORT_DIRS: '/srv/models, /mnt/nas/gguf' }).import_dirs, [
    '/srv/models',
    '/mnt/nas/gguf',
  ])
  const flagged = parseHiveConfig(['--import-dir', '/a', '--import-dir', 'rel'], { RBEE_IMPORT_DIRS: '/b' })
  assert.deepEqual(flagged.import_dirs, ['/a', join(process.cwd(), 'rel')])
})
