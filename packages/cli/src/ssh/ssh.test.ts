import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { sshFailure } from './ssh-runner.js'
import { parseSshG, type SshTarget, sshOptionsFor } from './ssh-target.js'

const target: SshTarget = {
  alias: 'gpu-box',
  options: [],
  destination: 'gpu-box',
  hostname: '10.0.0.12',
  user: 'vince',
  port: 22,
  hivePort: 7835,
  binaryPath: '~/.local/lib/rbee',
}

const fail = (stderr: string) => sshFailure(target, { code: 255, stdout: '', stderr })

describe('ssh failures', () => {
  test('a refused key says to install the key', () => {
    const e = fail('vince@10.0.0.12: Permission denied (publickey).\r\n')
    assert.equal(e?.code, 'RBEE_UNAUTHORIZED')
    assert.match(e!.message, /refused the SSH key \(Permission denied \(publickey\)\)/)
    assert.match(e!.message, /ssh-copy-id vince@10\.0\.0\.12/)
  })

  test('an unreachable host says to check the machine and HostName', () => {
    const e = fail('ssh: connect to host 10.0.0.12 port 22: Connection timed out\r\n')
    assert.equal(e?.code, 'RBEE_UNREACHABLE')
    assert.match(
      e!.message,
      /cannot reach 10\.0\.0\.12:22 over SSH \(ssh: connect to host 10\.0\.0\.12 port 22: Connection timed out\)/,
    )
    assert.match(fail('ssh: connect to host 10.0.0.12 port 22: No route to host')!.message, /cannot reach/)
    assert.match(
      fail('ssh: connect to host 10.0.0.12 port 22: Connection refused')!.message,
      /is sshd running there/,
    )
    assert.match(
      fail('ssh: Could not resolve hostname nope: Name or service not known')!.message,
      /cannot resolve/,
    )
  })

  test('an unknown host key says how to accept it', () => {
    assert.match(fail('Host key verification failed.')!.message, /connect once with `ssh gpu-box`/)
  })

  test('a remote command failing is not an ssh failure', () => {
    assert.equal(sshFailure(target, { code: 1, stdout: '', stderr: 'boom' }), undefined)
  })
})

describe('ssh targets', () => {
  test('hives.conf settings become ssh options, and defaults are left to ~/.ssh/config', () => {
    const base = {
      id: 'gpu-box',
      hostname: 'gpu-box',
      user: undefined,
      sshPort: 22,
      hivePort: 7835,
      binaryPath: undefined,
      line: 1,
    }
    assert.deepEqual(sshOptionsFor(base, ['-i', 'k']), ['-i', 'k'])
    assert.deepEqual(sshOptionsFor({ ...base, hostname: '10.0.0.12', user: 'vince', sshPort: 2222 }, []), [
      '-o',
      'HostName=10.0.0.12',
      '-o',
      'User=vince',
      '-o',
      'Port=2222',
    ])
  })

  test('ssh -G output is read first value first', () => {
    const g = parseSshG(
      'user vince\nhostname 10.0.0.12\nport 2222\nidentityfile ~/.ssh/id_rsa\nidentityfile ~/.ssh/id_ed25519\n',
    )
    assert.equal(g.get('hostname'), '10.0.0.12')
    assert.equal(g.get('port'), '2222')
    assert.equal(g.get('identityfile'), '~/.ssh/id_rsa')
  })
})
