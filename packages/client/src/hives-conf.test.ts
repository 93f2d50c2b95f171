import assert from 'node:assert/strict'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { RbeeError } from '@rbee/common'
import { applySshConfig, hiveConfUrl, loadHivesConf, parseHivesConf } from './hives-conf.js'

describe('hives.conf', () => {
  test('parses hosts with every keyword and applies defaults', () => {
    const hives = parseHivesConf(`
# two machines
Host gpu-box
    HostName 10.0.0.12
    User vince
    Port 2222
    HivePort 9000
    BinaryPath /opt/rbee/bin/rbee-hive

Host cpu-box
    hostname=cpu.lan
`)
    assert.deepEqual(hives, [
      {
        id: 'gpu-box',
        hostname: '10.0.0.12',
        user: 'vince',
        sshPort: 2222,
        hivePort: 9000,
        binaryPath: '/opt/rbee/bin/rbee-hive',
        line: 3,
      },
      {
        id: 'cpu-box',
        hostname: 'cpu.lan',
        user: undefined,
        sshPort: 22,
        hivePort: 7835,
        binaryPath: undefined,
        line: 10,
      },
    ])
    assert.equal(hiveConfUrl(hives[0]!), 'http://10.0.0.12:9000')
  })

  test('wildcard blocks supply defaults and the first value wins as in ssh_config', () => {
    const hives = parseHivesConf(`
Host a b
    HivePort 8000
Host *
    User rbee
    HivePort 9999
`)
    assert.deepEqual(
      hives.map((h) => [h.id, h.hostname, h.user, h.hivePort]),
      [
        ['a', 'a', 'rbee', 8000],
        ['b', 'b', 'rbee', 8000],
      ],
    )
  })

  test('an unknown keyword is reported with file and line', () => {
    assert.throws(
      () => parseHivesConf('Host x\n  HostNmae 1.2.3.4\n', { source: 'my.conf' }),
      (e: unknown) =>
        e instanceof RbeeError && e.code === 'RBEE_CONFIG' && /my\.conf:2: unknown keyword/.test(e.message),
    )
  })

  test('a bad port and a bad alias are rejected', () => {
    assert.throws(() => parseHivesConf('Host x\n HivePort 70000\n'), /hives\.conf:2: HivePort must be a port/)
    assert.throws(() => parseHivesConf('Host ../etc\n'), /not a usable hive id/)
  })

  test('~/.ssh/config resolves aliases that hives.conf leaves bare', () => {
    const hives = parseHivesConf('Host gpu\n  HivePort 7835\nHost cpu\n  HostName 10.1.1.1\n')
    const resolved = applySshConfig(
      hives,
      'Host gpu\n  HostName 192.168.1.50\n  User alice\n  Port 2200\n  IdentityFile ~/.ssh/id\nHost cpu\n  HostName other\n',
    )
    assert.deepEqual(
      resolved.map((h) => [h.id, h.hostname, h.user, h.sshPort]),
      [
        ['gpu', '192.168.1.50', 'alice', 2200],
        ['cpu', '10.1.1.1', undefined, 22],
      ],
    )
  })

  test('a missing file means no hives', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rbee-conf-'))
    assert.deepEqual(await loadHivesConf(join(dir, 'nope.conf'), { sshConfigPath: null }), [])
    await writeFile(join(dir, 'hives.conf'), 'Host h1\n  HostName 127.0.0.1\n  HivePort 1234\n')
    const hives = await loadHivesConf(join(dir, 'hives.conf'), { sshConfigPath: join(dir, 'no-ssh') })
    assert.equal(hives[0]?.id, 'h1')
    assert.equal(hiveConfUrl(hives[0]!), 'http://127.0.0.1:1234')
  })
})
