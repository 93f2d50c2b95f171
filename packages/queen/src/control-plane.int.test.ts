import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { daemonCommand, daemonEnv, ManagedProcess } from '@rbee/testing'

// `queen-rbee` of @rbee/queen (not `rbee-local`): what a control-plane machine installs.
const here = dirname(fileURLToPath(import.meta.url))

describe('queen-rbee of @rbee/queen alone: a control plane', () => {
  let home: string
  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'rbee-control-plane-'))
  })
  after(() => rm(home, { recursive: true, force: true }))

  const start = (...args: string[]): ManagedProcess =>
    new ManagedProcess({
      ...daemonCommand('queen-rbee', [
        '--port',
        '0',
        '--home',
        home,
        '--hives-conf',
        join(home, 'none.conf'),
        ...args,
      ]),
      env: daemonEnv(),
    })

  test('depends on no hive, worker or llama.cpp package', async () => {
    const pkg = JSON.parse(await readFile(join(here, '..', 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>
    }
    for (const name of ['@rbee/hive', '@rbee/worker', '@rbee/gguf', 'node-llama-cpp', 'better-sqlite3']) {
      assert.equal(pkg.dependencies[name], undefined, `@rbee/queen depends on ${name}`)
    }
  })

  test('with no hive configured it runs none, answers, and stops gracefully on SIGTERM (exit 0)', async () => {
    const queen = start()
    try {
      const listening = await queen.waitForJson<{ type: string; url: string; local_hive: string | null }>(
        (m) => m.type === 'listening',
      )
      assert.equal(listening.local_hive, null)
      const info = (await (await fetch(`${listening.url}/v1/info`)).json()) as {
        local_hive: string | null
        hives_total: number
      }
      assert.equal(info.local_hive, null)
      assert.equal(info.hives_total, 0)
    } finally {
      assert.deepEqual(await queen.close(), { code: 0, signal: null })
    }
  })

  test('a local-hive setting it cannot honour is refused by name, exit code 2', async () => {
    const queen = start('--local-hive-id', 'here')
    assert.deepEqual(await queen.exited, { code: 2, signal: null })
    assert.match(queen.stderrTail(), /--local-hive-id: this queen-rbee runs no local hive/)
  })
})
