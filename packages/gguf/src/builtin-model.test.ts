import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { BUILTIN_MODEL_ID } from '@rbee/contracts'
import { ensureBuiltinModel, TINY_MODEL_SPEC } from './builtin-model.js'
import { generateLlamaModel } from './model-generator.js'
import { scratchDir } from './scratch-dir.js'

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')
const expected = sha256(generateLlamaModel(TINY_MODEL_SPEC))

test('the built-in model id is tiny, written as tiny.gguf', async () => {
  assert.equal(BUILTIN_MODEL_ID, 'tiny')
  const dir = join(await scratchDir('builtin'), 'nested', 'models')
  const path = await ensureBuiltinModel(dir)
  assert.equal(path, join(dir, 'tiny.gguf'))
  assert.equal(sha256(await readFile(path)), expected)
})

test('ensureBuiltinModel leaves an up-to-date file alone', async () => {
  const dir = await scratchDir('builtin')
  const path = await ensureBuiltinModel(dir)
  const before = await stat(path)
  await ensureBuiltinModel(dir)
  const after = await stat(path)
  assert.equal(after.ino, before.ino)
  assert.equal(after.mtimeMs, before.mtimeMs)
})

test('ensureBuiltinModel replaces a corrupted, truncated or foreign file', async () => {
  const dir = await scratchDir('builtin')
  const path = await ensureBuiltinModel(dir)
  const good = await readFile(path)
  const flipped = Buffer.from(good)
  flipped[flipped.length - 100] = (flipped[flipped.length - 100] ?? 0) ^ 1
  for (const bad of [flipped, good.subarray(0, 1000), Buffer.from('not a model')]) {
    await writeFile(path, bad)
    assert.equal(await ensureBuiltinModel(dir), path)
    assert.equal(sha256(await readFile(path)), expected)
  }
})

test('concurrent callers all get the complete file and no temporary files are left', async () => {
  const dir = await scratchDir('builtin')
  const paths = await Promise.all(Array.from({ length: 5 }, () => ensureBuiltinModel(dir)))
  assert.deepEqual(new Set(paths), new Set([join(dir, 'tiny.gguf')]))
  assert.deepEqual(await readdir(dir), ['tiny.gguf'])
  assert.equal(sha256(await readFile(join(dir, 'tiny.gguf'))), expected)
})
