import assert from 'node:assert/strict'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { RELOAD_DONE } from '@rbee/common'
import { startHive, waitFor } from '@rbee/testing'

test('SIGHUP: a hive keeps serving, re-reads its token file, and refuses a changed or broken one with the running token kept', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rbee-hive-reload-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const tokenFile = join(dir, 'node-token')
  const token = 'node-token-from-a-file'
  await writeFile(tokenFile, `# the fleet's node token\n${token}\n`, { mode: 0o600 })
  const hive = await startHive({ args: ['--token-file', tokenFile], env: { RBEE_LOG_LEVEL: 'info' } })
  t.after(() => hive.close())
  const info = (bearer?: string) =>
    fetch(`${hive.url}/v1/info`, { headers: bearer ? { authorization: `Bearer ${bearer}` } : {} }).then(
      (r) => r.status,
    )
  assert.deepEqual([await info(token), await info()], [200, 401], 'the token comes from the file')
  let reloads = 0
  const hup = async (): Promise<void> => {
    hive.process.kill('SIGHUP')
    reloads++
    await waitFor(`reload ${reloads} logged`, () => hive.process.logged(RELOAD_DONE).length >= reloads)
  }

  await hup()
  assert.equal(hive.process.logged('node token file reloaded: unchanged').length, 1)

  await writeFile(tokenFile, 'a-new-token-nobody-has\n')
  await hup()
  const changed = hive.process.logged(/^the node token changed in its file: refused/)
  assert.equal(changed.length, 1)
  assert.equal(changed[0]!.file, tokenFile)
  assert.ok(
    !JSON.stringify(hive.process.stderrLines).includes('a-new-token-nobody-has'),
    'no token is logged',
  )
  assert.deepEqual([await info(token), await info('a-new-token-nobody-has')], [200, 401])

  await writeFile(tokenFile, `${token}\n`)
  await chmod(tokenFile, 0o644)
  await hup()
  const refused = hive.process.logged('reload refused: the node token file is kept as it was')
  assert.equal(refused.length, 1)
  assert.match(String(refused[0]!.err), /open to group or others \(mode 0644\); run: chmod 600/)
  assert.equal(await info(token), 200)
  assert.equal(hive.process.hasExited, false, 'SIGHUP no longer ends the hive')
})
