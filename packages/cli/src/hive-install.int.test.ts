import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { FleetStatusSchema } from '@rbee/contracts'
import {
  canCreateNetworks,
  canStartSshd,
  createTestNetwork,
  RbeeSandbox,
  startSshd,
  type TestNetwork,
  type TestSshd,
  waitFor,
} from '@rbee/testing'

const run = promisify(execFile)
const API_KEY = 'test-api-key-0123456789'
const NODE_TOKEN = 'test-node-token-0123456789'

// Three simulated machines on a test network: `node-a` with sshd and Node (the install
// target), `node-nonode` with sshd but no Node on the PATH, `node-down` whose link is down.
// The queen listens on the network's gateway address, as it would on a LAN.
let skip: string | undefined
let net: TestNetwork | undefined
let sshdA: TestSshd | undefined
let sshdB: TestSshd | undefined
let sb: RbeeSandbox | undefined
let keyDir: string | undefined
let sshEnv: NodeJS.ProcessEnv = {}

before(async () => {
  if (!(await canCreateNetworks()) || !(await canStartSshd())) {
    skip = 'needs root, iproute2 and openssh-server (scripts/setup-system.sh installs them)'
    return
  }
  net = await createTestNetwork({ hosts: 3 })
  const [a, b, c] = net.hosts
  sshdA = await startSshd({ host: a! })
  sshdB = await startSshd({ host: b!, path: '/nonexistent-rbee-bin' })
  await c!.setLink(false)
  sb = await RbeeSandbox.create({
    host: net.gateway,
    env: { RBEE_API_KEY: API_KEY, RBEE_NODE_TOKEN: NODE_TOKEN },
  })
  await mkdir(sb.configDir, { recursive: true })
  await writeFile(
    join(sb.configDir, 'hives.conf'),
    [
      'Host node-a',
      `    HostName ${a!.address}`,
      `    User ${sshdA.user}`,
      'Host node-nonode',
      `    HostName ${b!.address}`,
      `    User ${sshdB.user}`,
      'Host node-down',
      `    HostName ${c!.address}`,
      '',
    ].join('\n'),
  )
  // The test sshds' options (their own known_hosts, batch mode, a short connect timeout); both
  // authorize their own generated key, so both are offered.
  sshEnv = {
    RBEE_SSH_OPTIONS: [...sshdA.sshOptions, '-i', sshdB.identityFile, '-o', 'IdentitiesOnly=yes'].join(' '),
  }
  const started = await sb.run(['queen', 'start', '--host', net.gateway])
  assert.equal(started.code, 0, started.stderr)
})

after(async () => {
  await sb?.close()
  await sshdA?.close()
  await sshdB?.close()
  await net?.close()
  if (keyDir) await rm(keyDir, { recursive: true, force: true })
})

describe('rbee hive install over a real sshd', { timeout: 150_000 }, () => {
  test('installs the hive on another machine, which then serves a request routed by the queen', async (t) => {
    if (skip) return t.skip(skip)
    const install = await sb!.run(['hive', 'install', 'node-a'], { env: sshEnv, timeoutMs: 120_000 })
    t.diagnostic(install.stderr)
    assert.equal(install.code, 0, install.stderr)
    assert.match(
      install.stdout,
      /^hive node-a is online at http:\/\/10\.\d+\.\d+\.\d+:7835 \(installed in \/home\/\S+\/\.local\/lib\/rbee .*started in the background/,
    )
    assert.match(install.stderr, /Node 20\.\d+\.\d+ \(linux-x64\), no systemd user manager/)
    assert.match(install.stderr, /bundle: [\d.]+ MiB/)
    assert.ok(
      existsSync(`${sshdA!.home}/.local/lib/rbee/packages/hive/dist/main.js`),
      'unpacked under BinaryPath',
    )

    const answer = await sb!.run(['infer', '--hive', 'node-a', 'Hello from afar', '--max-tokens', '8'])
    assert.equal(answer.code, 0, answer.stderr)
    assert.ok(answer.stdout.trim().length > 0)
    const status = FleetStatusSchema.parse(JSON.parse((await sb!.run(['status', '--json'])).stdout))
    const worker = status.workers.find((w) => w.hive_id === 'node-a')
    assert.ok(worker, 'a worker runs on node-a')
    assert.equal(worker.host, net!.hosts[0]!.address)

    const hiveStatus = await sb!.run(['hive', 'status', 'node-a'], { env: sshEnv })
    assert.equal(hiveStatus.code, 0, hiveStatus.stderr)
    assert.match(hiveStatus.stdout, /node-a: online/)
    assert.match(hiveStatus.stdout, /process: running \(pid \d+, detached\)/)

    const logs = await sb!.run(['hive', 'logs', 'node-a', '-n', '5'], { env: sshEnv })
    assert.equal(logs.code, 0, logs.stderr)
    assert.equal(logs.stdout.trim().split('\n').length, 5)
    const stopped = await sb!.run(['hive', 'stop', 'node-a'], { env: sshEnv })
    assert.equal(stopped.code, 0, stopped.stderr)
    assert.match(stopped.stdout, /^node-a: rbee-hive stopped \(pid \d+\)/)
    const started = await sb!.run(['hive', 'start', 'node-a'], { env: sshEnv })
    assert.equal(started.code, 0, started.stderr)
    assert.match(started.stdout, /^node-a: rbee-hive started \(pid \d+\)/)
    await sb!.waitHiveOnline('node-a', 30_000)

    const removed = await sb!.run(['hive', 'uninstall', 'node-a'], { env: sshEnv })
    assert.equal(removed.code, 0, removed.stderr)
    assert.ok(!existsSync(`${sshdA!.home}/.local/lib/rbee`), 'install directory removed')
    // The hive is gone when uninstall returns; its workers follow it within moments (their
    // stdin lifeline closes), so wait for that, bounded.
    await waitFor(
      'no hive or worker process left on node-a',
      async () => {
        const left = await run('pgrep', ['-a', '-u', sshdA!.user]).then(
          (r) => r.stdout.trim(),
          () => '',
        )
        if (left !== '') throw new Error(`still running: ${left}`)
        return true
      },
      5000,
      100,
    )
  })

  test('an unreachable host gets a clear message', async (t) => {
    if (skip) return t.skip(skip)
    const r = await sb!.run(['hive', 'install', 'node-down'], { env: sshEnv })
    assert.equal(r.code, 1)
    assert.match(
      r.stderr,
      /^rbee: cannot reach 10\.\d+\.\d+\.\d+:22 over SSH \(.*(timed out|No route to host).*\): is the machine on, and is HostName right for node-down\?\n$/m,
    )
  })

  test('a refused key gets a clear message', async (t) => {
    if (skip) return t.skip(skip)
    keyDir = await mkdtemp(join(tmpdir(), 'rbee-cli-key-'))
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(keyDir, 'other')])
    const opts = sshdA!.sshOptions.filter((o, i, all) => o !== '-i' && all[i - 1] !== '-i')
    const r = await sb!.run(['hive', 'install', 'node-a'], {
      env: { RBEE_SSH_OPTIONS: [...opts, '-i', join(keyDir, 'other'), '-o', 'IdentitiesOnly=yes'].join(' ') },
    })
    assert.equal(r.code, 1)
    assert.match(
      r.stderr,
      /^rbee: \S+@10\.\d+\.\d+\.\d+ refused the SSH key \(Permission denied \(publickey\)\): add your public key/m,
    )
  })

  test('a machine without Node gets a clear message', async (t) => {
    if (skip) return t.skip(skip)
    const r = await sb!.run(['hive', 'install', 'node-nonode'], { env: sshEnv })
    assert.equal(r.code, 1)
    assert.match(
      r.stderr,
      /^rbee: Node\.js is not installed on node-nonode \(no `node` on its PATH\): install Node\.js 20 or later there/m,
    )
  })
})
