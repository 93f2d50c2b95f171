import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { TINY_MODEL_SPEC } from './builtin-model.js'
import { readGgufHeader } from './gguf-reader.js'
import { describeLlamaModel } from './model-generator.js'
import { parseSplitName, splitGguf, splitPartName, splitPartNames, writeSplitGguf } from './split-model.js'

test("split part names follow llama.cpp's naming, and only well-formed ones parse", () => {
  assert.equal(splitPartName('dir/m-Q4_K_M', 2, 3), 'dir/m-Q4_K_M-00002-of-00003.gguf')
  assert.deepEqual(parseSplitName('dir/m-Q4_K_M-00002-of-00003.gguf'), {
    prefix: 'dir/m-Q4_K_M',
    index: 2,
    count: 3,
  })
  assert.deepEqual(splitPartNames('m-00003-of-00003.gguf'), [
    'm-00001-of-00003.gguf',
    'm-00002-of-00003.gguf',
    'm-00003-of-00003.gguf',
  ])
  for (const bad of [
    'm.gguf',
    'm-00004-of-00003.gguf',
    'm-00000-of-00003.gguf',
    'm-1-of-3.gguf',
    '-00001-of-00002.gguf',
  ])
    assert.equal(parseSplitName(bad), undefined, bad)
})

test('a model split in three: the first part has the metadata and the split keys, the others only the keys, the tensors once each', async () => {
  const model = describeLlamaModel(TINY_MODEL_SPEC)
  assert.throws(() => splitGguf(model, 1), RangeError)
  const dir = await mkdtemp(join(tmpdir(), 'rbee-split-'))
  try {
    const parts = await writeSplitGguf(dir, 'tiny', model, 3)
    assert.deepEqual(
      parts.map((p) => p.path),
      [1, 2, 3].map((i) => join(dir, splitPartName('tiny', i, 3))),
    )
    const headers = await Promise.all(parts.map((p) => readGgufHeader(p.path)))
    assert.equal(headers[0]!.architecture, 'llama')
    assert.deepEqual(
      headers.map((h) => h.split),
      [0, 1, 2].map((no) => ({ no, count: 3, tensorsCount: model.tensors.length })),
    )
    assert.deepEqual(
      headers.slice(1).map((h) => [h.architecture, h.metadata.size]),
      [
        ['', 4],
        ['', 4],
      ],
    )
    const names = headers.flatMap((h) => h.tensors.map((t) => t.name))
    assert.deepEqual(
      names,
      model.tensors.map((t) => t.name),
    )
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
