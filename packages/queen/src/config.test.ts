import assert from 'node:assert/strict'
import { chmod, mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { keyFingerprint } from '@rbee/common'
import { ConfigError, parseQueenConfig } from './config.js'

const HOME_ENV = { HOME: '/home/u', XDG_DATA_HOME: '', XDG_CONFIG_HOME: '' }

describe('queen configuration', () => {
  test('defaults: loopback, port 7833, the local hive on, hives.conf and home in the usual places', () => {
    const c = parseQueenConfig([], HOME_ENV)
    assert.equal(c.host, '127.0.0.1')
    assert.equal(c.port, 7833)
    assert.equal(c.local_hive, true)
    assert.deepEqual(c.api_keys, [])
    assert.match(c.hives_conf, /\.config\/rbee\/hives\.conf$/)
    assert.match(c.home, /\.local\/share\/rbee$/)
    assert.equal(c.queue_size, 64)
    assert.equal(c.builtin_idle_ttl_ms, 0)
    assert.equal(c.idle_ttl_ms, 600_000)
  })

  test('every flag has an environment variable, and flags win', () => {
    const env = {
      ...HOME_ENV,
      RBEE_PORT: '9000',
      RBEE_API_KEYS: 'key-one-123456, key-two-123456',
      RBEE_NODE_TOKEN: 'node-token-123',
      RBEE_NO_LOCAL_HIVE: '1',
      RBEE_QUEUE_SIZE: '5',
      RBEE_HIVES_CONF: '/etc/rbee/hives.conf',
    }
    const c = parseQueenConfig(['--port', '9100', '--api-key', 'flag-key-123456'], env)
    assert.equal(c.port, 9100)
    assert.deepEqual(c.api_keys, ['flag-key-123456'])
    assert.equal(c.node_token, 'node-token-123')
    assert.equal(c.local_hive, false)
    assert.equal(c.queue_size, 5)
    assert.equal(c.hives_conf, '/etc/rbee/hives.conf')
    assert.deepEqual(parseQueenConfig([], env).api_keys, ['key-one-123456', 'key-two-123456'])
  })

  test('user keys, admin keys and the node token can come from files of mode 600', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rbee-queen-conf-'))
    const secret = { mode: 0o600 }
    await writeFile(
      join(dir, 'keys'),
      '# keys\nfile-key-1234567\n\nuser file-key-7654321\nadmin admin-key-1234567\n',
      secret,
    )
    await writeFile(join(dir, 'admins'), 'admin-key-7654321\n', secret)
    await writeFile(join(dir, 'token'), 'node-token-from-file\n', secret)
    const c = parseQueenConfig(
      [
        '--api-key-file',
        join(dir, 'keys'),
        '--admin-key-file',
        join(dir, 'admins'),
        '--node-token-file',
        join(dir, 'token'),
      ],
      HOME_ENV,
    )
    assert.deepEqual(c.api_keys, ['file-key-1234567', 'file-key-7654321'])
    assert.deepEqual(c.admin_keys, ['admin-key-1234567', 'admin-key-7654321'])
    assert.equal(c.node_token, 'node-token-from-file')
  })

  test('a key file line may give its key a default priority; a bad one names the line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rbee-queen-conf-'))
    const path = join(dir, 'keys')
    await writeFile(
      path,
      'batch-key-1234567 priority=low\nadmin ops-key-1234567 priority=high\nplain-key-1234567\n',
      {
        mode: 0o600,
      },
    )
    const c = parseQueenConfig(['--api-key-file', path], HOME_ENV)
    assert.deepEqual(c.api_keys, ['batch-key-1234567', 'plain-key-1234567'])
    assert.deepEqual(c.key_priorities, {
      [keyFingerprint('batch-key-1234567')]: -10,
      [keyFingerprint('ops-key-1234567')]: 10,
    })
    await writeFile(path, 'user batch-key-1234567 priority=soon\n')
    assert.throws(
      () => parseQueenConfig(['--api-key-file', path], HOME_ENV),
      (e: unknown) =>
        e instanceof ConfigError && /keys line 1: priority must be low, normal, high/.test(e.message),
    )
    await writeFile(path, 'plain-key-1234567\npriority=high\n')
    assert.throws(
      () => parseQueenConfig(['--api-key-file', path], HOME_ENV),
      (e: unknown) => e instanceof ConfigError && /keys line 2: priority=P without a key/.test(e.message),
      'a lone priority= is not taken as a key',
    )
  })

  test('an empty, blank or unreadable key file, or one open to others, stops the start with what to do', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rbee-queen-conf-'))
    const refused = async (name: string, text: string, mode: number, why: RegExp) => {
      const path = join(dir, name)
      await writeFile(path, text, { mode })
      await chmod(path, mode)
      assert.throws(
        () => parseQueenConfig(['--api-key-file', path], HOME_ENV),
        (e: unknown) => e instanceof ConfigError && why.test(e.message),
        name,
      )
    }
    await refused('empty', '', 0o600, /holds no API key/)
    await refused('blank', '  \n\t\n# only a comment\n', 0o600, /holds no API key/)
    await refused('world', 'good-key-12345678\n', 0o644, /mode 0644\); run: chmod 600 /)
    await refused('group', 'good-key-12345678\n', 0o640, /mode 0640\); run: chmod 600 /)
    await refused(
      'junk',
      'owner good-key-12345678\n',
      0o600,
      /line 1: expected KEY, 'user KEY' or 'admin KEY'/,
    )
    assert.throws(
      () => parseQueenConfig(['--node-token-file', join(dir, 'missing')], HOME_ENV),
      (e: unknown) => e instanceof ConfigError && /cannot read the node token file/.test(e.message),
    )
    assert.throws(
      () =>
        parseQueenConfig(['--api-key', 'same-key-12345678', '--node-token', 'same-key-12345678'], HOME_ENV),
      (e: unknown) => e instanceof ConfigError && /--node-token: the node token must differ/.test(e.message),
    )
  })

  test('a bad value names its flag', () => {
    assert.throws(
      () => parseQueenConfig(['--port', '70000', '--api-key', 'short'], HOME_ENV),
      (e: unknown) => e instanceof ConfigError && /--port: /.test(e.message) && /--api-key: /.test(e.message),
    )
    assert.throws(() => parseQueenConfig(['--bogus'], HOME_ENV), ConfigError)
  })

  test('--import-dir is passed on to the local hive: repeated, or comma-separated in RBEE_IMPORT_DIRS', () => {
    assert.deepEqual(parseQueenConfig([], HOME_ENV).import_dirs, [])
    const env = { ...HOME_ENV, RBEE_IMPORT_DIRS: '/srv/a,/srv/b' }
    assert.deepEqual(parseQueenConfig([], env).import_dirs, ['/srv/a', '/srv/b'])
    assert.deepEqual(parseQueenConfig(['--import-dir', '/x'], env).import_dirs, ['/x'])
  })
})
