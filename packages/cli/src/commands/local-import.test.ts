import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { placeInImportDir } from './local-import.js'

let root: string
let drop: string
const shm = await stat('/dev/shm').catch(() => undefined)
const otherFs = shm !== undefined && shm.dev !== (await stat(tmpdir())).dev

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'rbee-place-'))
  drop = join(root, 'rbee', 'import')
})
after(() => rm(root, { recursive: true, force: true }))

test('a file on the same file system is hard-linked into the import dir, and found there the next time', async () => {
  const file = join(root, 'my model.gguf')
  await writeFile(file, 'weights')
  const placed = await placeInImportDir(file, drop)
  assert.deepEqual(placed, {
    path: join(drop, 'my model.gguf'),
    how: 'linked',
    parts: [join(drop, 'my model.gguf')],
  })
  assert.equal((await stat(placed.path)).ino, (await stat(file)).ino)
  assert.deepEqual(await placeInImportDir(file, drop), { path: placed.path, how: 'present', parts: [] })
})

test('another file of the same name is left alone: the next free name is used', async () => {
  await writeFile(join(drop, 'same.gguf'), 'theirs')
  await writeFile(join(root, 'same.gguf'), 'mine')
  const placed = await placeInImportDir(join(root, 'same.gguf'), drop)
  assert.deepEqual(placed, {
    path: join(drop, 'same-2.gguf'),
    how: 'linked',
    parts: [join(drop, 'same-2.gguf')],
  })
  assert.equal(await readFile(join(drop, 'same.gguf'), 'utf8'), 'theirs')
})

test('a symlink is followed: what lands in the import dir is the file, not a link that leads out', async () => {
  await writeFile(join(root, 'target.gguf'), 'target')
  await symlink(join(root, 'target.gguf'), join(root, 'alias.gguf'))
  const placed = await placeInImportDir(join(root, 'alias.gguf'), drop)
  assert.equal(placed.path, join(drop, 'target.gguf'))
  assert.ok((await stat(placed.path)).isFile())
  assert.equal((await stat(placed.path)).ino, (await stat(join(root, 'target.gguf'))).ino)
})

test('a file on another file system is copied with progress, leaving no partial file behind', {
  skip: !otherFs && 'no second file system (/dev/shm) here',
}, async (t) => {
  const src = await mkdtemp('/dev/shm/rbee-place-')
  t.after(() => rm(src, { recursive: true, force: true }))
  const file = join(src, 'big.gguf')
  await writeFile(file, Buffer.alloc(3 * 1024 * 1024, 1))
  const progress: number[] = []
  const placed = await placeInImportDir(file, drop, { onCopyProgress: (done) => progress.push(done) })
  assert.deepEqual(placed, { path: join(drop, 'big.gguf'), how: 'copied', parts: [join(drop, 'big.gguf')] })
  assert.deepEqual(await readFile(placed.path), await readFile(file))
  assert.ok(progress.length >= 2, 'progress while copying')
  assert.equal(progress.at(-1), 3 * 1024 * 1024)
  assert.deepEqual(
    (await readdir(drop)).filter((n) => n.endsWith('.partial')),
    [],
  )
})

test('the first part of a split model brings every part, side by side; another model of those names is left alone', async () => {
  const src = join(root, 'split-src')
  const names = ['big-00001-of-00002.gguf', 'big-00002-of-00002.gguf']
  await mkdir(src, { recursive: true })
  for (const n of names) await writeFile(join(src, n), n)
  const placed = await placeInImportDir(join(src, names[0]!), drop)
  assert.deepEqual(placed, {
    path: join(drop, names[0]!),
    how: 'linked',
    parts: names.map((n) => join(drop, n)),
  })
  assert.equal((await stat(join(drop, names[1]!))).ino, (await stat(join(src, names[1]!))).ino)
  assert.deepEqual((await placeInImportDir(join(src, names[0]!), drop)).how, 'present')

  // Other bytes under the same part names: the parts go to a directory of their own.
  const other = join(root, 'split-other')
  await mkdir(other, { recursive: true })
  for (const n of names) await writeFile(join(other, n), `other ${n}`)
  const second = await placeInImportDir(join(other, names[0]!), drop)
  assert.deepEqual(
    second.parts,
    names.map((n) => join(drop, 'big-00001-of-00002-2', n)),
  )
  assert.equal(await readFile(join(drop, names[1]!), 'utf8'), names[1])
  // A first part without the rest is refused before anything is placed.
  await rm(join(other, names[1]!))
  await assert.rejects(placeInImportDir(join(other, names[0]!), join(root, 'empty-drop')), /ENOENT/)
})

test('a directory is not placed', async () => {
  await assert.rejects(placeInImportDir(root, drop), /is not a regular file/)
})
