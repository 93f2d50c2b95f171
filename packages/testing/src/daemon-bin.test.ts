import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { test } from 'node:test'
import { daemonBin, daemonBinEnvVar, daemonCommand } from './daemon-bin.js'

test('each executable comes from its RBEE_TEST_BIN_* variable, and without one from its package bin field', (t) => {
  const name = 'queen-rbee'
  const envVar = daemonBinEnvVar(name)
  assert.equal(envVar, 'RBEE_TEST_BIN_QUEEN_RBEE')
  const saved = process.env[envVar]
  t.after(() => {
    if (saved === undefined) delete process.env[envVar]
    else process.env[envVar] = saved
  })
  process.env[envVar] = '/opt/elsewhere/queen-rbee.js'
  assert.equal(daemonBin(name), '/opt/elsewhere/queen-rbee.js')
  assert.deepEqual(daemonCommand(name, ['--port', '0']), {
    command: process.execPath,
    args: ['/opt/elsewhere/queen-rbee.js', '--port', '0'],
  })

  delete process.env[envVar]
  const found = daemonBin(name)
  assert.match(found, /\/queen\/bin\/queen-rbee\.js$/)
  assert.ok(existsSync(found))
  // The worker's bin is a shell wrapper: it runs as a program, not under node.
  delete process.env[daemonBinEnvVar('llm-worker-rbee')]
  assert.equal(daemonCommand('llm-worker-rbee', []).command, daemonBin('llm-worker-rbee'))
})
