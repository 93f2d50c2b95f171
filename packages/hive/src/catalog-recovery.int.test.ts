import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { copyFile, mkdtemp, open, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { type ModelEntry, ModelEntrySchema } from '@rbee/contracts'
import { LocalHub, payloadOf, runJob, startHive, tinyModelPath } from '@rbee/testing'

test('a hive whose catalog has its first 4 KiB overwritten moves it aside naming both paths, rebuilds its models (marked rebuilt) and starts', async (t) => {
  const home = await mkdtemp(join(tmpdir(), 'rbee-hive-heal-'))
  const hub = await LocalHub.start()
  t.after(async () => {
    await hub.close()
    await rm(home, { recursive: true, force: true })
  })
  const tiny = await readFile(await tinyModelPath())
  hub.addRepo('acme', 'tiny-GGUF', { 'tiny.Q4_K_M.gguf': tiny })
  const env = { HF_ENDPOINT: hub.url }

  const first = await startHive({ home, env })
  const downloaded = await runJob(first.url, { operation: 'model_download', model: 'hf:acme/tiny-GGUF' })
  assert.equal(downloaded.outcome, 'done', downloaded.message ?? '')
  await copyFile(await tinyModelPath(), join(home, 'import', 'mine.gguf'))
  const imported = await runJob(first.url, {
    operation: 'model_import',
    path: join(home, 'import', 'mine.gguf'),
  })
  assert.equal(imported.outcome, 'done', imported.message ?? '')
  assert.equal((await first.close()).code, 0)

  const catalog = join(home, 'catalog.sqlite')
  const garbage = randomBytes(4096)
  const fh = await open(catalog, 'r+')
  await fh.write(garbage, 0, garbage.length, 0)
  await fh.close()

  const second = await startHive({ home, env })
  t.after(() => second.close())
  const logs = second.process.stderrLines.flatMap((l) => {
    try {
      return [JSON.parse(l) as Record<string, unknown>]
    } catch {
      return []
    }
  })
  const setAside = logs.find((l) => typeof l.moved_to === 'string')
  assert.ok(setAside, second.process.stderrTail())
  assert.equal(setAside.path, catalog)
  assert.match(String(setAside.moved_to), /catalog\.sqlite\.corrupt-\d{4}-\d\d-\d\dT/)
  assert.match(String(setAside.problem), /not a database/)
  assert.deepEqual(
    (await readFile(String(setAside.moved_to))).subarray(0, 4096),
    garbage,
    'the unusable file is kept, as it was',
  )

  const list = await runJob(second.url, { operation: 'model_list' })
  const models = new Map(
    payloadOf<{ models: ModelEntry[] }>(list, 'model_list').models.map((m) => {
      const entry = ModelEntrySchema.parse(m)
      return [entry.id, entry]
    }),
  )
  const back = models.get('tiny.Q4_K_M')
  assert.ok(back, `models: ${[...models.keys()].join(', ')}`)
  assert.equal(back.source, 'hf:acme/tiny-GGUF:tiny.Q4_K_M.gguf')
  assert.equal(back.sha256, hub.sha256('acme', 'tiny-GGUF', 'tiny.Q4_K_M.gguf'))
  assert.equal(back.available, true)
  assert.equal(back.rebuilt, true)
  assert.equal(models.get('mine')?.source, `file:${join(home, 'import', 'mine.gguf')}`)
  assert.equal(models.get('mine')?.rebuilt, true)
  assert.equal(models.get('tiny')?.rebuilt, false, 'the built-in model is written again, not rebuilt')
  const said = list.narrations.find((n) => n.action === 'catalog_rebuilt')
  assert.ok(said)
  assert.ok(said.human.includes(catalog) && said.human.includes(String(setAside.moved_to)), said.human)
  assert.match(said.human, /2 model\(s\) were rebuilt from their files/)
})
