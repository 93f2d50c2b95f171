// Every script the CLI sends over ssh, run by a real /bin/sh with hostile values in every place a
// value goes (BinaryPath, the remote home, the node path, the upload path). ssh is replaced by a
// stand-in that runs the command here as sshd would (its words joined by spaces, given to the
// shell with -c), with HOME in a sandbox and systemctl, loginctl, journalctl and npm replaced by
// stand-ins that log their arguments (no test can drive a real user manager or the registry).

import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  watch,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { after, describe, test } from 'node:test'
import { RbeeError } from '@rbee/common/base'
import { hostileStrings } from '@rbee/testing'
import { SshRunner } from '../ssh/ssh-runner.js'
import type { SshTarget } from '../ssh/ssh-target.js'
import { existingLayout, layoutFor, remoteHome, uninstallHive } from './hive-install.js'
import { probeRemote } from './remote-probe.js'
import {
  envFileText,
  installScriptText,
  logsCommandText,
  logTailText,
  processStatusText,
  remoteLayout,
  startCommandText,
  stopCommandText,
  UNIT,
  unitText,
} from './remote-scripts.js'

const top = mkdtempSync(join(tmpdir(), 'rbee-hostile-'))
after(() => rmSync(top, { recursive: true, force: true }))
const marks = join(top, 'marks')
mkdirSync(marks)
const marker = join(marks, 'pwned')
const bin = join(top, 'bin')
mkdirSync(bin)

function script(path: string, text: string): void {
  writeFileSync(path, text)
  chmodSync(path, 0o755)
}

script(
  join(bin, 'ssh'),
  `#!/bin/sh
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do shift; done
shift 2
cd "$HOME" || exit 255
exec /bin/sh -c "$*"
`,
)
for (const tool of ['systemctl', 'loginctl', 'journalctl', 'npm']) {
  script(join(bin, tool), `#!/bin/sh\nprintf '%s\\0' ${tool} "$@" >>"$RBEE_TEST_CALLS"\n`)
}
// The machine's node, as the probe sees it (a real one takes a tenth of a second to start).
const nodeFacts = {
  version: '20.19.0',
  modules: '115',
  platform: 'linux',
  arch: 'x64',
  execPath: '/usr/bin/node',
}
script(join(bin, 'node'), `#!/bin/sh\necho 'node=${JSON.stringify(nodeFacts)}'\n`)

/** The bundle the install unpacks: just the hive's entry point. */
const bundleDir = join(top, 'bundle')
mkdirSync(join(bundleDir, 'packages', 'hive', 'dist'), { recursive: true })
writeFileSync(join(bundleDir, 'packages', 'hive', 'dist', 'main.js'), '// the hive\n')
const bundle = join(top, 'bundle.tar.gz')
execFileSync('tar', ['-czf', bundle, '-C', bundleDir, '.'])

const pwned = (): string[] => readdirSync(marks)

/** Resolves once `file` exists (it is renamed into place whole); fails after 10 s. */
function fileAppears(file: string, what: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const dir = resolve(file, '..')
    const watcher = watch(dir)
    const timer = setTimeout(() => finish(new Error(`timed out waiting for ${what}`)), 10_000)
    const finish = (err?: Error): void => {
      clearTimeout(timer)
      watcher.close()
      if (err) reject(err)
      else resolvePromise()
    }
    watcher.on('change', () => {
      if (existsSync(file)) finish()
    })
    if (existsSync(file)) finish()
  })
}

const argvIn = (file: string): string[] => readFileSync(file, 'utf8').split('\0').slice(0, -1)

/** A path below `base` made of `value`, with `..` taken out so it cannot leave `base`. */
const below = (base: string, value: string): string => `${base}/${value.replace(/\.\./g, '_.')}`

/** One sandboxed "machine": a home directory, a node binary, and the log of stand-in calls. */
class Machine {
  readonly dir: string
  readonly home: string
  readonly node: string
  readonly calls: string
  readonly ran: string
  readonly ssh: SshRunner

  constructor(value: string, binaryPath: string) {
    this.dir = mkdtempSync(join(top, 'm-'))
    // A home or node path with a line break is left out: the probe reads facts line by line.
    const flat = value.replace(/[\n\r]/g, '_')
    this.home = below(join(this.dir, 'home'), flat)
    mkdirSync(this.home, { recursive: true })
    this.node = `${below(join(this.dir, 'node'), flat)}/node`
    mkdirSync(resolve(this.node, '..'), { recursive: true })
    this.ran = join(this.dir, 'ran')
    script(
      this.node,
      `#!/bin/sh\nprintf '%s\\0' "$RBEE_HIVE_ID" "$@" >${this.ran}.tmp && mv ${this.ran}.tmp ${this.ran}\n`,
    )
    this.calls = join(this.dir, 'calls')
    writeFileSync(this.calls, '')
    const target: SshTarget = {
      alias: 'box',
      options: [],
      destination: 'box',
      hostname: 'box',
      user: 'u',
      port: 22,
      hivePort: 7835,
      binaryPath,
    }
    this.ssh = new SshRunner(target, {
      command: [
        'env',
        `HOME=${this.home}`,
        `XDG_DATA_HOME=${join(this.dir, 'xdg')}`,
        `PATH=${bin}:${process.env.PATH}`,
        `RBEE_TEST_CALLS=${this.calls}`,
        join(bin, 'ssh'),
      ],
    })
  }

  /** Arguments the stand-ins were called with, one call per array. */
  callsOf(tool: string): string[][] {
    const words = argvIn(this.calls)
    const out: string[][] = []
    for (const w of words) {
      if (['systemctl', 'loginctl', 'journalctl', 'npm'].includes(w)) out.push([w])
      else out.at(-1)?.push(w)
    }
    return out.filter((c) => c[0] === tool).map((c) => c.slice(1))
  }
}

/** `BinaryPath` for a value: as given when relative (below the home), else below `~`. */
const binaryPathFor = (value: string): string => (value.startsWith('/') ? `~${value}` : value)

/** Runs a script on the machine; it must succeed and run no payload. */
async function ok(m: Machine, what: string, text: string): Promise<string> {
  const r = await m.ssh.script(text)
  assert.deepEqual(pwned(), [], `${what}: a payload ran`)
  assert.equal(r.code, 0, `${what} failed: ${r.stderr}`)
  return r.stdout
}

/** The words of systemd's `ExecStart=` value, unquoted as systemd does for these quoted words. */
function execStartWords(unit: string): string[] {
  const line = unit.split('\n').find((l) => l.startsWith('ExecStart='))!
  const words: string[] = []
  for (const m of line.slice('ExecStart='.length).matchAll(/"((?:[^"\\]|\\.)*)"/g)) {
    words.push(m[1]!.replace(/\\(.)/g, '$1').replace(/\$\$/g, '$').replace(/%%/g, '%'))
  }
  return words
}

const UNIT_LINES = unitText(remoteLayout('/home/u/rbee', '/home/u', '/usr/bin/node')).split('\n').length
const values = hostileStrings({ marker, seed: 9, random: 16 })

describe('every remote script with hostile values', () => {
  test('a BinaryPath with NUL is refused before anything runs', async () => {
    const m = new Machine('nul', 'rbee\0$(touch x)')
    await assert.rejects(
      uninstallHive(m.ssh, false),
      (err) => err instanceof RbeeError && err.code === 'RBEE_CONFIG',
    )
  })

  test('install, control, logs and uninstall run no payload, and every value arrives intact', async () => {
    let refused = 0
    for (const value of values) {
      const binaryPath = binaryPathFor(value)
      const m = new Machine(value, binaryPath)
      const say = JSON.stringify(value)
      try {
        assert.equal(await remoteHome(m.ssh), m.home, `home for ${say}`)
        const facts = await probeRemote(m.ssh)
        assert.deepEqual(facts.node, nodeFacts)
        assert.equal(facts.home, m.home, `probed home for ${say}`)
        let layout: ReturnType<typeof layoutFor>
        try {
          layout = layoutFor(binaryPath, { home: m.home, node: { ...facts.node, execPath: m.node } })
        } catch (err) {
          // Only a path that is the home itself or goes through `..`/`.` may be refused.
          assert.ok(err instanceof RbeeError && err.code === 'RBEE_CONFIG', `${say}: ${err}`)
          const segments = `${m.home}/${binaryPath.replace(/^~\/?/, '')}`.split('/').filter(Boolean)
          assert.ok(
            segments.includes('.') ||
              segments.includes('..') ||
              `/${segments.join('/')}` === m.home.replace(/\/+$/, '').replace(/\/+/g, '/'),
            `${say} was refused: ${err}`,
          )
          await assert.rejects(uninstallHive(m.ssh, false), RbeeError)
          refused++
          continue
        }
        const root = layout.root
        assert.ok(resolve(root).startsWith(`${resolve(m.home)}/`), `${say}: ${root} is not below the home`)
        assert.deepEqual((await existingLayout(m.ssh)).root, root)

        const upload = `${m.home}/.rbee-hive-${value.replace(/\//g, '_')}.tar.gz`
        await m.ssh.copy(bundle, upload)
        assert.deepEqual(readFileSync(upload), readFileSync(bundle), `copy to ${say}`)

        const env = envFileText({ RBEE_HIVE_ID: 'box', RBEE_PORT: '7835' })
        const install = (systemd: boolean): string =>
          installScriptText({
            layout,
            tarball: upload,
            env,
            npmInstall: systemd,
            systemd,
            packages: ['hive'],
          })
        const out = await ok(m, `install ${say}`, install(false))
        assert.ok(out.includes(`RBEE_STEP unpacking into ${root}\n`), `${say}: ${out}`)
        assert.equal(existsSync(upload), false)
        assert.equal(readFileSync(layout.envFile, 'utf8'), env)
        assert.equal(lstatSync(layout.envFile).mode & 0o777, 0o600)
        assert.equal(readlinkSync(`${root}/node_modules/@rbee/hive`), '../../packages/hive')
        await fileAppears(m.ran, `the hive of ${say} to start`)
        assert.deepEqual(argvIn(m.ran), ['box', layout.hiveMain], `${say}: the start script ran node with`)
        assert.match(readFileSync(layout.pidFile, 'utf8'), /^\d+\n$/)
        // The stand-in node has exited, but this container's init may reap it late, and the
        // stop script would wait for that: the pid file goes (the stop scripts still run).
        rmSync(layout.pidFile)

        assert.match(await ok(m, 'status', processStatusText(layout)), /^RBEE_(RUNNING|STOPPED) /)
        await ok(m, 'logs', logsCommandText(layout, 5, false))
        await ok(m, 'stop', stopCommandText(layout))
        rmSync(m.ran)
        await ok(m, 'start', startCommandText(layout))
        await fileAppears(m.ran, `the hive of ${say} to start again`)
        rmSync(layout.pidFile)

        let unit: string | undefined
        try {
          unit = install(true)
        } catch (err) {
          // A line break or tab cannot go into a systemd unit; nothing else is refused.
          const control = [...`${root}${m.node}`].some((c) => c < ' ' || c === '\u007f')
          assert.ok(err instanceof RbeeError && control, `${say}: ${err}`)
        }
        if (unit !== undefined) {
          await m.ssh.copy(bundle, upload)
          await ok(m, `install with systemd ${say}`, unit)
          assert.deepEqual(m.callsOf('npm')[0], [
            'install',
            '--omit=dev',
            '--no-audit',
            '--no-fund',
            '--loglevel=error',
          ])
          assert.deepEqual(m.callsOf('systemctl').at(-1), ['--user', 'restart', UNIT])
          const text = readFileSync(layout.unitFile, 'utf8')
          assert.deepEqual(execStartWords(text), [layout.node, layout.hiveMain], `${say}: ${text}`)
          assert.equal(text.split('\n').length, UNIT_LINES, `${say}: the unit has lines of its own: ${text}`)
          await ok(m, 'start with systemd', startCommandText(layout))
          assert.deepEqual(m.callsOf('systemctl').at(-1), ['--user', 'start', UNIT])
          await ok(m, 'status with systemd', processStatusText(layout))
        }
        await m.ssh.script(logTailText(layout, 15))

        mkdirSync(join(m.dir, 'xdg', 'rbee'), { recursive: true })
        const said = await uninstallHive(m.ssh, true)
        assert.deepEqual(pwned(), [], `uninstall ${say}: a payload ran`)
        assert.ok(said.endsWith(`removed ${root}`), `${say}: ${said}`)
        for (const p of [root, `${root}.new`, `${root}.old`, layout.unitFile, join(m.dir, 'xdg', 'rbee')]) {
          assert.equal(existsSync(p), false, `${say}: ${p} is still there`)
        }
      } finally {
        rmSync(m.dir, { recursive: true, force: true })
      }
    }
    assert.deepEqual(pwned(), [])
    // The generator must mostly give values an install accepts, or the test proves little.
    assert.ok(refused < values.length / 4, `${refused} of ${values.length} refused`)
  })
})
