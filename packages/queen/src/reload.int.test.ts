import assert from 'node:assert/strict'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { QueenClient } from '@rbee/client'
import { keyFingerprint, RELOAD_DONE } from '@rbee/common'
import type { FleetStatus } from '@rbee/contracts'
import { type StartedHive, type StartedQueen, startHive, startQueen, waitFor } from '@rbee/testing'

const NODE_TOKEN = 'node-token-reload-1'
const KEY_A = 'sk-user-key-a-0123456'
const KEY_B = 'sk-user-key-b-6543210'

// A real queen (no local hive) with a key file and a hives.conf, and a real hive it does not know
// yet; files are rewritten and the queen sent SIGHUP, as an operator would.
describe('queen-rbee on SIGHUP', () => {
  let dir: string
  let hivesConf: string
  let keyFile: string
  let hive: StartedHive
  let queen: StartedQueen
  let reloads = 0

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rbee-queen-reload-'))
    hivesConf = join(dir, 'hives.conf')
    keyFile = join(dir, 'api-keys')
    await writeFile(hivesConf, '# no hive yet\n')
    await writeFile(keyFile, `user ${KEY_A}\n`, { mode: 0o600 })
    hive = await startHive({ hiveId: 'h1', token: NODE_TOKEN })
    queen = await startQueen({
      nodeToken: NODE_TOKEN,
      hivesConf,
      args: ['--no-local-hive', '--api-key-file', keyFile, '--hive-interval-ms', '200'],
      env: { RBEE_LOG_LEVEL: 'info' },
    })
  })
  after(async () => {
    await queen?.close()
    await hive?.close()
    await rm(dir, { recursive: true, force: true })
  })

  /** Sends SIGHUP and waits until the queen logs that this reload is over. */
  async function hup(): Promise<void> {
    queen.process.kill('SIGHUP')
    reloads++
    await waitFor(`reload ${reloads} logged`, () => queen.process.logged(RELOAD_DONE).length >= reloads)
  }

  const infoStatus = (key: string) =>
    fetch(`${queen.url}/v1/info`, { headers: { authorization: `Bearer ${key}` } }).then((r) => r.status)

  async function status(key: string): Promise<FleetStatus> {
    const client = new QueenClient({ baseUrl: queen.url, token: key })
    try {
      return await client.status()
    } finally {
      await client.close()
    }
  }

  test('hives.conf: an added hive is connected, a file that no longer parses or is empty is refused with the hives kept, a removed hive is dropped', async () => {
    await writeFile(hivesConf, `Host h1\n    HostName 127.0.0.1\n    HivePort ${hive.port}\n`)
    await hup()
    assert.deepEqual(queen.process.logged('hives.conf reloaded').at(-1)?.added, ['h1'])
    await waitFor('h1 online', async () => (await status(KEY_A)).hives.find((h) => h.id === 'h1')?.online)

    await writeFile(hivesConf, `Host h1\n    HostName 127.0.0.1\n    Bogus yes\n`)
    await hup()
    await writeFile(hivesConf, '')
    await hup()
    const refused = queen.process.logged('reload refused: hives.conf kept as it was')
    assert.equal(refused.length, 2)
    assert.match(String(refused[0]!.err), /hives\.conf:3: unknown keyword "Bogus"/)
    assert.match(String(refused[1]!.err), /hives\.conf is empty/)
    assert.equal(queen.process.hasExited, false, 'SIGHUP no longer ends the queen')
    const kept = (await status(KEY_A)).hives.find((h) => h.id === 'h1')
    assert.equal(kept?.online, true, 'the hive of the last good file is still used')

    await writeFile(hivesConf, '# h1 is gone\n')
    await hup()
    assert.deepEqual(queen.process.logged('hives.conf reloaded').at(-1)?.removed, ['h1'])
    assert.deepEqual((await status(KEY_A)).hives, [])
  })

  test('key files: a new key works and a removed one is refused at once; a file that is unsafe or empty is refused with the keys kept', async () => {
    assert.deepEqual([await infoStatus(KEY_A), await infoStatus(KEY_B)], [200, 401])
    await writeFile(keyFile, `user ${KEY_B}\n`)
    await hup()
    assert.deepEqual([await infoStatus(KEY_A), await infoStatus(KEY_B)], [401, 200])
    const changed = queen.process.logged('API keys reloaded').at(-1)?.user_keys
    assert.deepEqual(changed, { added: [keyFingerprint(KEY_B)], removed: [keyFingerprint(KEY_A)], total: 1 })

    await chmod(keyFile, 0o644)
    await hup()
    await writeFile(keyFile, '# nothing\n', { mode: 0o600 })
    await chmod(keyFile, 0o600)
    await hup()
    const refused = queen.process.logged('reload refused: the keys are kept as they were')
    assert.equal(refused.length, 2)
    assert.match(String(refused[0]!.err), /open to group or others \(mode 0644\)/)
    assert.match(String(refused[1]!.err), /holds no API key/)
    assert.deepEqual(
      [await infoStatus(KEY_A), await infoStatus(KEY_B)],
      [401, 200],
      'the last good keys hold',
    )
    const log = queen.process.stderrLines.join('\n')
    assert.ok(!log.includes(KEY_A) && !log.includes(KEY_B), 'no key is ever logged')
  })

  test('models.conf: a new file is taken; one that does not parse, or is gone, is refused with the line named and the old kept', async () => {
    const modelsConf = join(dir, 'models.conf')
    await writeFile(modelsConf, 'Model tiny\n  pin yes\n')
    await hup()
    assert.deepEqual(queen.process.logged('models.conf reloaded').at(-1)?.models, ['tiny'])
    await writeFile(modelsConf, 'Model tiny\n  pin maybe\n')
    await hup()
    await rm(modelsConf)
    await hup()
    const refused = queen.process.logged('reload refused: models.conf kept as it was')
    assert.equal(refused.length, 2)
    assert.match(String(refused[0]!.err), /models\.conf:2: pin must be yes or no/)
    assert.match(String(refused[1]!.err), /cannot read .*models\.conf/)
  })
})
