import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { ManagedProcess } from './managed-process.js'
import type { NetnsHost } from './netns.js'
import { waitFor } from './wait-for.js'

const run = promisify(execFile)

/** A real OpenSSH server on a test host, with a throwaway user and a generated key pair. */
export interface TestSshd {
  readonly host: string
  readonly port: number
  readonly user: string
  /** Private key the client uses (`ssh -i`). */
  readonly identityFile: string
  /** Options a client needs for this server (known-hosts file of its own, batch mode). */
  readonly sshOptions: string[]
  readonly home: string
  readonly process: ManagedProcess
  close(): Promise<void>
}

export interface StartSshdOptions {
  /** The network-namespace host it runs on (it listens on that host's address, port 22). */
  host: NetnsHost
  /** `PATH` the user's commands get (e.g. one without Node, to test that error). */
  path?: string
}

async function waitForPort(host: string, port: number, timeoutMs: number): Promise<void> {
  const accepts = (): Promise<boolean> =>
    new Promise<boolean>((resolve) => {
      const s = connect({ host, port, timeout: 500 })
      s.once('connect', () => {
        s.destroy()
        resolve(true)
      })
      s.once('error', () => resolve(false))
      s.once('timeout', () => {
        s.destroy()
        resolve(false)
      })
    })
  await waitFor(`sshd on ${host}:${port} to accept connections`, accepts, timeoutMs)
}

/** True when sshd, ssh-keygen and useradd exist here (Debian: `apt-get install openssh-server`). */
export async function canStartSshd(): Promise<boolean> {
  try {
    await run('test', ['-x', '/usr/sbin/sshd'])
    await run('sh', ['-c', 'command -v ssh-keygen && command -v useradd && command -v ssh'])
    return process.getuid?.() === 0
  } catch {
    return false
  }
}

let users = 0

/**
 * Starts Debian's sshd inside a test host's namespace, with its own host key, a throwaway user
 * (created with `useradd`, removed on close) and a fresh client key authorized for it.
 */
export async function startSshd(options: StartSshdOptions): Promise<TestSshd> {
  const dir = await mkdtemp(join(tmpdir(), 'rbee-sshd-'))
  const user = `rbt${process.pid % 100000}u${users++}`
  const home = `/home/${user}`
  let proc: ManagedProcess | undefined
  const close = async (): Promise<void> => {
    await proc?.close(2000).catch(() => {})
    // Processes the user left running (a hive started over ssh) go with the user.
    await run('pkill', ['-KILL', '-u', user]).catch(() => {})
    await run('userdel', ['-r', '-f', user]).catch(() => {})
    await rm(dir, { recursive: true, force: true })
  }
  try {
    await run('useradd', ['-m', '-d', home, '-s', '/bin/bash', user])
    // useradd leaves the account locked ('!'), and sshd without PAM refuses locked accounts even
    // for key logins; '*' means "no password" without locking.
    await run('usermod', ['-p', '*', user])
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')])
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'id_ed25519')])
    const pub = await readFile(join(dir, 'id_ed25519.pub'), 'utf8')
    await run('install', ['-d', '-m', '700', '-o', user, '-g', user, `${home}/.ssh`])
    await writeFile(`${home}/.ssh/authorized_keys`, pub, { mode: 0o600 })
    await run('chown', [`${user}:${user}`, `${home}/.ssh/authorized_keys`])
    await run('mkdir', ['-p', '/run/sshd'])
    const config = [
      `ListenAddress ${options.host.address}`,
      'Port 22',
      `HostKey ${join(dir, 'host_key')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'UsePAM no',
      `AllowUsers ${user}`,
      'LogLevel ERROR',
      ...(options.path ? [`SetEnv PATH=${options.path}`] : []),
    ].join('\n')
    await writeFile(join(dir, 'sshd_config'), `${config}\n`)
    proc = options.host.spawn({
      command: '/usr/sbin/sshd',
      args: ['-D', '-e', '-f', join(dir, 'sshd_config')],
    })
    await waitForPort(options.host.address, 22, 10_000)
    const sshOptions = [
      '-o',
      'BatchMode=yes',
      '-o',
      'StrictHostKeyChecking=accept-new',
      '-o',
      `UserKnownHostsFile=${join(dir, 'known_hosts')}`,
      '-o',
      'ConnectTimeout=5',
      '-i',
      join(dir, 'id_ed25519'),
    ]
    return {
      host: options.host.address,
      port: 22,
      user,
      identityFile: join(dir, 'id_ed25519'),
      sshOptions,
      home,
      process: proc,
      close,
    }
  } catch (err) {
    await close()
    throw err
  }
}
