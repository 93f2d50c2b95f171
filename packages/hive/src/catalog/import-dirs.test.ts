import assert from 'node:assert/strict'
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { RbeeError } from '@rbee/common'
import { ImportDirs } from './import-dirs.js'

let root: string
let drop: string
let extra: string
let outside: string
let dirs: ImportDirs

before(async () => {
  root = await realpath(await mkdtemp(join(tmpdir(), 'rbee-import-dirs-')))
  drop = join(root, 'home', 'import')
  extra = join(root, 'nas')
  outside = join(root, 'elsewhere')
  for (const d of [drop, extra, outside]) await mkdir(d, { recursive: true })
  await writeFile(join(drop, 'a.gguf'), 'a')
  await writeFile(join(extra, 'b.gguf'), 'b')
  await writeFile(join(outside, 'secret.gguf'), 'secret')
  // An import dir reached through a link of its own is still that dir.
  await symlink(extra, join(root, 'nas-link'))
  dirs = new ImportDirs([drop, join(root, 'nas-link')])
})
after(() => rm(root, { recursive: true, force: true }))

/** The refusal's message with the path taken out: what a caller learns besides the path. */
async function refusal(path: string): Promise<string> {
  try {
    await dirs.resolve(path)
  } catch (err) {
    assert.ok(err instanceof RbeeError, String(err))
    assert.equal(err.code, 'RBEE_IMPORT_DENIED')
    assert.equal(err.status, 403)
    assert.deepEqual(err.details, { import_dirs: [drop, join(root, 'nas-link')] })
    return err.message.replace(path, '<path>')
  }
  return assert.fail(`${path} was allowed`)
}

test('a file inside an import dir resolves to its real path, also through a linked import dir', async () => {
  assert.equal(await dirs.resolve(join(drop, 'a.gguf')), join(drop, 'a.gguf'))
  assert.equal(await dirs.resolve(join(root, 'nas-link', 'b.gguf')), join(extra, 'b.gguf'))
  assert.equal(await dirs.resolve(join(extra, 'b.gguf')), join(extra, 'b.gguf'))
})

test('a path outside the import dirs is refused alike whether or not it exists, naming the dirs and the flag', async () => {
  const exists = await refusal(join(outside, 'secret.gguf'))
  assert.equal(await refusal(join(outside, 'missing.gguf')), exists)
  assert.equal(await refusal('/etc/shadow'), exists)
  assert.equal(await refusal(join(drop, '..', '..', 'elsewhere', 'secret.gguf')), exists)
  assert.equal(await refusal(drop), exists, 'the import dir itself is not a file in it')
  assert.match(exists, new RegExp(`only files inside ${drop}, ${join(root, 'nas-link')}`))
  assert.match(exists, /--import-dir DIR \(RBEE_IMPORT_DIRS\)/)
})

test('a link inside an import dir that leads out of it is refused alike, whether its target exists or not', async () => {
  const expected = await refusal(join(outside, 'secret.gguf'))
  await symlink(join(outside, 'secret.gguf'), join(drop, 'escape.gguf'))
  await symlink(join(outside, 'missing.gguf'), join(drop, 'dangling.gguf'))
  await symlink(outside, join(drop, 'subdir'))
  assert.equal(await refusal(join(drop, 'escape.gguf')), expected)
  assert.equal(await refusal(join(drop, 'dangling.gguf')), expected)
  assert.equal(await refusal(join(drop, 'subdir', 'secret.gguf')), expected)
  assert.equal(await refusal(join(drop, 'subdir', 'missing.gguf')), expected)
})

test('a missing file inside an import dir is reported as missing', async () => {
  await assert.rejects(dirs.resolve(join(drop, 'nope.gguf')), { code: 'RBEE_MODEL_NOT_FOUND' })
})
