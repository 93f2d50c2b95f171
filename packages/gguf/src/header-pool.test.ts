import assert from 'node:assert/strict'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { TINY_MODEL_SPEC } from './builtin-model.js'
import { GgufFormatError } from './gguf-format-error.js'
import { writeGguf } from './gguf-writer.js'
import { GgufHeaderPool } from './header-pool.js'
import type { GgufValue } from './metadata-reader.js'
import { scalarMetadata } from './metadata-scalars.js'
import { writeLlamaModel } from './model-generator.js'
import { scratchDir } from './scratch-dir.js'

const dir = await scratchDir('pool')
const tiny = join(dir, 'tiny.gguf')
await writeLlamaModel(TINY_MODEL_SPEC, tiny)

/** 4M one-byte elements: a few MB on disk, far more as a JavaScript array. */
const bloated = join(dir, 'bloated.gguf')
await writeGguf(bloated, {
  metadata: [
    { key: 'general.architecture', type: 'string', value: 'llama' },
    { key: 'blob', type: 'array', itemType: 'uint8', value: new Array<number>(4 * 1024 * 1024).fill(1) },
  ],
  tensors: [],
})
/** Limits loose enough that the reader would load the blob, so only the thread's heap stops it. */
const loose = { maxInlineArrayLength: 1 << 30, maxHeaderMemoryBytes: 2 ** 40 }

const pools: GgufHeaderPool[] = []
function pool(options: ConstructorParameters<typeof GgufHeaderPool>[0] = {}): GgufHeaderPool {
  const p = new GgufHeaderPool(options)
  pools.push(p)
  return p
}
after(() => Promise.all(pools.map((p) => p.close())))

test('a header is read in a thread and only its figures come back', async () => {
  const facts = await pool().read(tiny)
  assert.equal(facts.architecture, 'llama')
  assert.equal(facts.path, tiny)
  assert.ok(facts.tensorCount > 0 && facts.metadataCount > 0)
  assert.ok(facts.vocabSize !== undefined && facts.vocabSize > 0)
  assert.ok(!('metadata' in facts) && !('tensors' in facts))
})

test('asked for, the scalar metadata comes back bounded: arrays as null, values JSON-safe', async () => {
  const facts = await pool().read(tiny, { scalars: true })
  const m = facts.scalars!
  assert.equal(m['general.architecture'], 'llama')
  assert.equal(m['llama.context_length'], 2048)
  assert.equal(m['tokenizer.ggml.add_bos_token'], true)
  assert.match(String(m['tokenizer.chat_template']), /<\|im_start\|>/)
  assert.equal(m['tokenizer.ggml.tokens'], null)
  assert.equal(Object.keys(m).length, facts.metadataCount)
  const capped = scalarMetadata(
    new Map<string, GgufValue>([
      ['a', 'x'.repeat(10)],
      ['b', 'y'.repeat(10)],
      ['c', 2n ** 70n],
      ['d', 1],
    ]),
    { maxKeys: 3, maxStringLength: 10, maxTotalStringLength: 15 },
  )
  assert.deepEqual(capped, { a: 'x'.repeat(10), b: null, c: String(2n ** 70n) })
})

test('a header read through an open descriptor gives the same figures', async () => {
  const handle = await open(tiny)
  try {
    assert.deepEqual(await pool().read(tiny, { fd: handle.fd }), await pool().read(tiny))
  } finally {
    await handle.close()
  }
})

test('a header that needs more memory than the thread may have fails as a GGUF error, and the process carries on', async () => {
  const p = pool({ heapMb: 16, limits: loose })
  await assert.rejects(p.read(bloated), (err: unknown) => {
    assert.ok(err instanceof GgufFormatError, String(err))
    assert.match(err.message, /reading its header needs more than the 16 MiB allowed/)
    return true
  })
  assert.equal((await p.read(tiny)).architecture, 'llama', 'the pool still reads the next file')
})

test('a header read that takes longer than the time limit is stopped', async () => {
  const p = pool({ timeoutMs: 1 })
  await assert.rejects(p.read(tiny), /reading its header took longer than 0.001 s/)
  assert.equal(p.running, 0)
})

test('errors from the thread keep their kind: a format problem, a missing file', async () => {
  await assert.rejects(pool().read(dir), (err: unknown) => err instanceof GgufFormatError)
  await assert.rejects(pool().read(join(dir, 'absent.gguf')), { code: 'ENOENT' })
})

test('at most `concurrency` headers are read at once; the rest wait their turn', async () => {
  const p = pool({ concurrency: 2 })
  const reads = Array.from({ length: 5 }, () => p.read(tiny))
  assert.deepEqual([p.running, p.waiting], [2, 3])
  for (const facts of await Promise.all(reads)) assert.equal(facts.architecture, 'llama')
  assert.deepEqual([p.running, p.waiting], [0, 0])
})

test('an aborted read stops, waiting or running, and close() fails what is left', async () => {
  const p = pool({ concurrency: 1 })
  const running = new AbortController()
  const waiting = new AbortController()
  const first = p.read(bloated, { signal: running.signal })
  const second = p.read(tiny, { signal: waiting.signal })
  const third = p.read(tiny)
  waiting.abort(new Error('not needed'))
  await assert.rejects(second, /not needed/)
  running.abort(new Error('cancelled'))
  await assert.rejects(first, /cancelled/)
  await p.close()
  await assert.rejects(third, /closed/)
  await assert.rejects(p.read(tiny), /closed/)
  assert.equal(p.running, 0)
})
