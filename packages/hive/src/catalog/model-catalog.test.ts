import assert from 'node:assert/strict'
import { copyFile, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { RbeeError, silentLogger } from '@rbee/common'
import { MAX_MODEL_PARTS } from '@rbee/contracts'
import { ensureBuiltinModel, GgufHeaderPool } from '@rbee/gguf'
import Database from 'better-sqlite3'
import { MIGRATIONS, migrationBackupPath } from './catalog-schema.js'
import { ModelCatalog } from './model-catalog.js'
import { inspectModelFile } from './model-inspector.js'
import { checkPartCount } from './model-parts.js'

const shape = { slots: 4, ctxSize: 2048 }
const headers = new GgufHeaderPool()
after(() => headers.close())

async function scratch(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'rbee-catalog-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

test('a model registered from its GGUF header survives a reopen of the catalog', async (t) => {
  const dir = await scratch(t)
  const path = await ensureBuiltinModel(join(dir, 'models'))
  const facts = await inspectModelFile(headers, path, shape)
  assert.equal(facts.architecture, 'llama')
  assert.ok(facts.parameter_count > 0 && facts.context_length === 2048 && facts.memory_estimate_mb > 64)
  const db = join(dir, 'catalog.sqlite')
  const a = new ModelCatalog({ path: db, logger: silentLogger() })
  const entry = a.register({ ...facts, id: 'tiny', source: 'builtin', builtin: true })
  assert.equal(entry.available, true)
  a.markUsed('tiny')
  a.close()

  const b = new ModelCatalog({ path: db, logger: silentLogger() })
  t.after(() => b.close())
  const again = await b.get('tiny')
  assert.equal(again.problem, null)
  assert.equal(again.entry.sha256, facts.sha256)
  assert.notEqual(again.entry.last_used_at, null)
  assert.equal(again.entry.added_at, entry.added_at)
  const raw = new Database(db)
  t.after(() => raw.close())
  assert.equal(raw.pragma('user_version', { simple: true }), MIGRATIONS.length)
})

test('a vanished or changed file makes its model unavailable with the reason; a touched one stays available', async (t) => {
  const dir = await scratch(t)
  const src = await ensureBuiltinModel(join(dir, 'models'))
  const catalog = new ModelCatalog({ path: join(dir, 'catalog.sqlite'), logger: silentLogger() })
  t.after(() => catalog.close())
  for (const id of ['gone', 'changed', 'touched']) {
    const path = join(dir, `${id}.gguf`)
    await copyFile(src, path)
    catalog.register({
      ...(await inspectModelFile(headers, path, shape)),
      id,
      source: `file:${path}`,
      builtin: false,
    })
  }
  await rm(join(dir, 'gone.gguf'))
  const changed = await inspectModelFile(headers, join(dir, 'changed.gguf'), shape)
  await writeFile(join(dir, 'changed.gguf'), Buffer.alloc(changed.size_bytes, 7))
  const later = new Date(Date.now() + 60_000)
  await utimes(join(dir, 'touched.gguf'), later, later)

  const byId = new Map((await catalog.list()).map((c) => [c.entry.id, c]))
  assert.match(byId.get('gone')?.problem ?? '', /has vanished/)
  assert.equal(byId.get('gone')?.entry.available, false)
  assert.match(byId.get('changed')?.entry.unavailable_reason ?? '', /changed on disk \(sha256 differs/)
  assert.equal(byId.get('touched')?.problem, null)
  await assert.rejects(catalog.servable('gone'), /cannot be served: file .* has vanished/)
  await assert.rejects(catalog.get('nope'), /not in this hive's catalog/)
  await assert.rejects(catalog.get('hf:org/repo'), /download it first with model_download/)
})

test('hf references find downloaded rows by source; a bare repo finds any of its files', async (t) => {
  const dir = await scratch(t)
  const path = await ensureBuiltinModel(join(dir, 'models'))
  const facts = await inspectModelFile(headers, path, shape)
  const catalog = new ModelCatalog({ path: join(dir, 'catalog.sqlite'), logger: silentLogger() })
  t.after(() => catalog.close())
  catalog.register({ ...facts, id: 'm.Q4_K_M', source: 'hf:acme/m-GGUF:m.Q4_K_M.gguf', builtin: false })
  assert.equal(catalog.find('hf:acme/m-GGUF:m.Q4_K_M.gguf')?.id, 'm.Q4_K_M')
  assert.equal(catalog.find('hf:acme/m-GGUF')?.id, 'm.Q4_K_M')
  assert.equal(catalog.find('hf:acme/other'), undefined)
  assert.equal(catalog.idTakenByOther('m.Q4_K_M', 'hf:x/y:m.Q4_K_M.gguf'), true)
  assert.equal(catalog.remove('m.Q4_K_M'), true)
  assert.equal(catalog.remove('m.Q4_K_M'), false)
})

test('a catalog written by a newer hive is refused instead of being misread', async (t) => {
  const dir = await scratch(t)
  const path = join(dir, 'catalog.sqlite')
  const raw = new Database(path)
  raw.pragma(`user_version = ${MIGRATIONS.length + 1}`)
  raw.close()
  assert.throws(
    () => new ModelCatalog({ path, logger: silentLogger() }),
    /newer than this rbee-hive understands/,
  )
})

test('a catalog at an older schema is copied, whole, before it is migrated', async (t) => {
  const dir = await scratch(t)
  const path = join(dir, 'catalog.sqlite')
  const facts = await inspectModelFile(headers, await ensureBuiltinModel(join(dir, 'models')), shape)
  const old = new Database(path)
  old.pragma('journal_mode = WAL')
  old.exec(MIGRATIONS[0]!)
  old.pragma('user_version = 1')
  old
    .prepare(
      `INSERT INTO models VALUES (@id, @source, @path, @size_bytes, @sha256, @architecture, @parameter_count,
         @quantization, @context_length, @memory_estimate_mb, @added_at, NULL, 0, @mtime_ms)`,
    )
    .run({ ...facts, id: 'kept', source: `file:${facts.path}`, added_at: new Date().toISOString() })
  old.close()

  const catalog = new ModelCatalog({ path, logger: silentLogger() })
  t.after(() => catalog.close())
  assert.equal((await catalog.get('kept')).entry.rebuilt, false)
  const backup = new Database(migrationBackupPath(path, 1), { readonly: true })
  t.after(() => backup.close())
  assert.equal(backup.pragma('user_version', { simple: true }), 1)
  assert.deepEqual(backup.prepare('SELECT id FROM models').all(), [{ id: 'kept' }])
})

test('a model of more parts than an entry may have is refused by name, and no row is stored', async (t) => {
  const dir = await scratch(t)
  const catalog = new ModelCatalog({ path: join(dir, 'catalog.sqlite'), logger: silentLogger() })
  t.after(() => catalog.close())
  const facts = await inspectModelFile(headers, await ensureBuiltinModel(join(dir, 'models')), shape)
  const part = { file: 'x.gguf', size_bytes: 1, sha256: facts.sha256 }
  const source = 'hf:acme/huge-GGUF:huge-00001-of-01025.gguf'
  assert.throws(
    () =>
      catalog.register({
        ...facts,
        id: 'huge',
        source,
        builtin: false,
        parts: Array.from({ length: MAX_MODEL_PARTS + 1 }, () => part),
      }),
    (err: unknown) =>
      err instanceof RbeeError &&
      err.code === 'RBEE_VALIDATION' &&
      /catalog entry for huge: parts/.test(err.message),
  )
  assert.equal(catalog.find(source), undefined)
  assert.equal((await catalog.list()).length, 0)

  const refused = (name: string) =>
    assert.throws(
      () => checkPartCount(`/models/${name}`, `hf:acme/huge-GGUF:${name}`),
      (err: unknown) =>
        err instanceof RbeeError &&
        err.status === 400 &&
        err.message === `hf:acme/huge-GGUF:${name} is split into 1025 parts; a model may have at most 1024`,
    )
  refused('huge-00001-of-01025.gguf')
  refused('huge-00003-of-01025.gguf')
  for (const fine of ['m-00001-of-01024.gguf', 'm.gguf', 'm-00001-of-00002.gguf']) checkPartCount(fine, fine)
})
