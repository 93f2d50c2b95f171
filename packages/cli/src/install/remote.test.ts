import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { describe, test } from 'node:test'
import { parseProbe } from './remote-probe.js'
import {
  envFileText,
  installRoot,
  installScriptText,
  logsCommandText,
  processStatusText,
  remoteAbsolute,
  remoteLayout,
  startCommandText,
  startScriptText,
  stopCommandText,
  stopScriptText,
  uninstallScriptText,
  unitText,
} from './remote-scripts.js'

const node = (version: string) =>
  `node=${JSON.stringify({ version, modules: '115', platform: 'linux', arch: 'x64', execPath: '/usr/bin/node' })}`

describe('remote probe', () => {
  test('reads the facts of a machine with Node 20', () => {
    const facts = parseProbe(
      'box',
      `home=/home/u\n${node('20.19.0')}\nsystemd=no\nnpm=yes\ncuda=yes\nvulkan=no\n`,
    )
    assert.equal(facts.home, '/home/u')
    assert.equal(facts.node.modules, '115')
    assert.equal(facts.systemdUser, false)
    assert.equal(facts.cuda, true)
  })

  test('missing Node and old Node each say what to install', () => {
    assert.throws(
      () => parseProbe('box', 'home=/home/u\nnode=none\n'),
      /Node\.js is not installed on box .*install Node\.js 20 or later/,
    )
    assert.throws(
      () => parseProbe('box', `home=/home/u\n${node('18.19.1')}\n`),
      /box has Node\.js 18\.19\.1, but rbee needs 20 or later/,
    )
  })
})

describe('remote scripts', () => {
  const layout = remoteLayout('/home/u/.local/lib/rbee', '/home/u', '/usr/bin/node')

  test('install paths expand ~ against the remote home', () => {
    assert.equal(remoteAbsolute('~/.local/lib/rbee', '/home/u'), '/home/u/.local/lib/rbee')
    assert.equal(remoteAbsolute('/opt/rbee', '/home/u'), '/opt/rbee')
    assert.equal(remoteAbsolute('rbee', '/home/u'), '/home/u/rbee')
  })

  test('an install directory is normalised, and one uninstall would wreck is refused', () => {
    assert.equal(installRoot('~/x//rbee/', '/home/u'), '/home/u/x/rbee')
    assert.equal(installRoot('/opt/rbee', '/home/u/'), '/opt/rbee')
    for (const bad of ['', '~', '~/', '/', '//', '/home', '~/x/../..', './rbee', '~/rbee/.']) {
      assert.throws(
        () => installRoot(bad, '/home/u'),
        /BinaryPath .* (must not go through|uninstalling would remove it)/,
      )
    }
  })

  test('the systemd unit keeps paths whole: no variables, no specifiers, no extra lines', () => {
    const odd = remoteLayout('/home/u/$HOME %h "a\\b"', '/home/u', '/opt/node $1/bin/node')
    const unit = unitText(odd)
    assert.match(unit, /^EnvironmentFile=\/home\/u\/\$HOME %%h "a\\b"\/hive\.env$/m)
    assert.match(
      unit,
      /^ExecStart="\/opt\/node \$\$1\/bin\/node" "\/home\/u\/\$\$HOME %%h \\"a\\\\b\\"\/packages/m,
    )
    const broken = remoteLayout(
      '/home/u/rbee\nExecStartPre=/bin/touch /tmp/pwned',
      '/home/u',
      '/usr/bin/node',
    )
    assert.throws(() => unitText(broken), /control characters .* cannot go into a systemd unit/)
  })

  test('the env file refuses values that would need quoting', () => {
    assert.equal(
      envFileText({ A: 'http://10.0.0.1:7833', B: undefined }).split('\n')[1],
      'A=http://10.0.0.1:7833',
    )
    assert.throws(() => envFileText({ RBEE_NODE_TOKEN: 'a b$c' }), /cannot go into the hive's env file/)
  })

  test('every generated shell script is valid sh', () => {
    const scripts = [
      startScriptText(layout),
      stopScriptText(layout),
      installScriptText({
        layout,
        tarball: '/home/u/x.tgz',
        env: 'A=1\n',
        npmInstall: false,
        systemd: false,
        packages: ['hive', 'worker'],
      }),
      installScriptText({
        layout,
        tarball: '/home/u/x.tgz',
        env: 'A=1\n',
        npmInstall: true,
        systemd: true,
        packages: ['hive'],
      }),
      uninstallScriptText(layout, true),
      startCommandText(layout),
      stopCommandText(layout),
      logsCommandText(layout, 20, true),
      processStatusText(layout),
    ]
    for (const s of scripts) execFileSync('sh', ['-n'], { input: s })
  })

  test('the systemd unit runs the hive with its env file', () => {
    const unit = unitText(layout)
    assert.match(unit, /EnvironmentFile=\/home\/u\/\.local\/lib\/rbee\/hive\.env/)
    assert.match(
      unit,
      /ExecStart="\/usr\/bin\/node" "\/home\/u\/\.local\/lib\/rbee\/packages\/hive\/dist\/main\.js"/,
    )
  })
})

describe('the queen URL a remote hive gets', () => {
  test('an explicit URL wins, then the first URL that is not loopback, else the route toward the host', async () => {
    const { queenUrlForHive } = await import('./queen-address.js')
    assert.deepEqual(await queenUrlForHive('http://q.lan:7833/x', ['http://127.0.0.1:7833'], '127.0.0.1'), {
      url: 'http://q.lan:7833',
      how: 'flag',
    })
    assert.deepEqual(
      await queenUrlForHive(undefined, ['http://127.0.0.1:9', 'http://10.0.0.5:9'], '127.0.0.1'),
      {
        url: 'http://10.0.0.5:9',
        how: 'queen',
      },
    )
    assert.deepEqual(await queenUrlForHive(undefined, ['http://127.0.0.1:9'], '127.0.0.2'), {
      url: 'http://127.0.0.1:9',
      how: 'derived',
    })
  })
})
