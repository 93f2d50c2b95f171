import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { GgufFormatError } from './gguf-format-error.js'
import { GGUF_LIMITS, type GgufLimits } from './gguf-limits.js'
import { type ReadGgufHeaderOptions, readGgufHeader } from './gguf-reader.js'
import { type GgufMetadataEntry, writeGguf } from './gguf-writer.js'
import { scratchDir } from './scratch-dir.js'

// The limits are injected here so that files of a few MB prove them; the defaults are the same
// checks with larger numbers.
const dir = await scratchDir('limits')
const MiB = 1024 * 1024
const arch: GgufMetadataEntry = { key: 'general.architecture', type: 'string', value: 'llama' }

async function file(name: string, metadata: GgufMetadataEntry[], tensorCount = 0): Promise<string> {
  const path = join(dir, name)
  await writeGguf(path, {
    metadata: [arch, ...metadata],
    tensors: Array.from({ length: tensorCount }, (_, i) => ({
      name: `t${i}`,
      type: 'F32' as const,
      dims: [1],
      data: new Float32Array(1),
    })),
  })
  return path
}

const bytes = (key: string, length: number): GgufMetadataEntry => ({
  key,
  type: 'array',
  itemType: 'uint8',
  value: new Array<number>(length).fill(7),
})

async function refused(path: string, options: ReadGgufHeaderOptions, pattern: RegExp): Promise<void> {
  const started = performance.now()
  await assert.rejects(readGgufHeader(path, options), (err: unknown) => {
    assert.ok(err instanceof GgufFormatError, `expected a GgufFormatError, got ${String(err)}`)
    assert.match(err.message, pattern)
    return true
  })
  assert.ok(performance.now() - started < 2000, 'refused in milliseconds')
}

const limits = (l: Partial<GgufLimits>): ReadGgufHeaderOptions => ({ limits: l })

test('a long metadata array is skipped, kept as its type and length, unless asked for by key', async () => {
  const tokens = Array.from({ length: 5000 }, (_, i) => `tok${i}`)
  const path = await file('long-arrays.gguf', [
    { key: 'tokenizer.ggml.tokens', type: 'array', itemType: 'string', value: tokens },
    bytes('blob', 2 * MiB),
    { key: 'llama.feed_forward_length', type: 'array', itemType: 'uint32', value: [256, 512, 128] },
  ])
  // A 2M-element array in memory would be estimated at 48 MiB; skipped, it stays far below 1 MiB.
  const h = await readGgufHeader(path, limits({ maxHeaderMemoryBytes: MiB }))
  assert.deepEqual(h.metadata.get('blob'), { itemType: 'uint8', length: 2 * MiB })
  assert.deepEqual(h.metadata.get('tokenizer.ggml.tokens'), { itemType: 'string', length: 5000 })
  assert.equal(h.vocabSize, 5000, 'the vocabulary size comes from the skipped array')
  assert.equal(h.feedForwardLength, 512, 'short per-layer arrays are read')

  const full = await readGgufHeader(path, { fullArrays: ['tokenizer.ggml.tokens'] })
  assert.deepEqual(full.metadata.get('tokenizer.ggml.tokens'), tokens)
  await refused(
    path,
    { fullArrays: ['blob'], limits: { maxHeaderMemoryBytes: MiB } },
    /array blob of 2097152 elements would take the parsed header past its 1 MiB memory limit/,
  )
})

test('metadata past the metadata byte limit is refused before the rest is read', async () => {
  const path = await file('fat-metadata.gguf', [
    bytes('a', MiB / 2),
    bytes('b', MiB / 2),
    bytes('c', MiB / 2),
  ])
  await refused(path, limits({ maxMetadataBytes: MiB }), /array b runs past the 1 MiB limit on metadata/)
  const strings = await file('fat-strings.gguf', [
    { key: 's', type: 'array', itemType: 'string', value: new Array<string>(3000).fill('x'.repeat(500)) },
  ])
  await refused(strings, limits({ maxMetadataBytes: MiB }), /string \d+ of s runs past the 1 MiB limit/)
  const big = await file('big-string.gguf', [{ key: 'template', type: 'string', value: 'y'.repeat(MiB) }])
  await refused(big, limits({ maxMetadataBytes: MiB / 2 }), /string value of template runs past/)
  await refused(big, limits({ maxStringBytes: 1000 }), /string value of template length 1048576 exceeds/)
  assert.equal((await readGgufHeader(path)).architecture, 'llama', 'the defaults allow them')
})

test('many short arrays cannot add up past the memory limit', async () => {
  const path = await file(
    'many-arrays.gguf',
    Array.from({ length: 100 }, (_, i) => ({
      key: `a${i}`,
      type: 'array' as const,
      itemType: 'uint32' as const,
      value: new Array<number>(1000).fill(i),
    })),
  )
  await refused(path, limits({ maxHeaderMemoryBytes: MiB }), /array a\d+ of 1000 elements would take/)
  await refused(path, limits({ maxMetadataEntries: 50 }), /metadata count 102 is over the 50 limit/)
})

test('a file with more tensors than the limit is refused before their descriptions are read', async () => {
  const path = await file('tensors.gguf', [], 5)
  await refused(path, limits({ maxTensorCount: 4 }), /tensor count 5 is over the 4 limit/)
  await refused(path, limits({ maxHeaderMemoryBytes: 1000 }), /5 tensor descriptions would take/)
  assert.equal((await readGgufHeader(path)).parameterCount, 5)
})

test('the default limits cannot be changed by a caller, only overridden per read, and only with positive integers', async () => {
  assert.ok(Object.isFrozen(GGUF_LIMITS))
  await assert.rejects(
    readGgufHeader(join(dir, 'absent.gguf'), limits({ maxTensorCount: 0 })),
    /maxTensorCount must be a positive integer/,
  )
})
