import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFile, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { float32ToFloat16Bits } from './float16.js'
import { GgufFormatError } from './gguf-format-error.js'
import { readGgufHeader } from './gguf-reader.js'
import { encodeGguf, type GgufFileInput, ggufChunks, writeGguf } from './gguf-writer.js'
import { scratchDir } from './scratch-dir.js'

const dir = await scratchDir('reader')

const q8Bytes = Uint8Array.from({ length: 68 }, (_, i) => i)

const sample: GgufFileInput = {
  metadata: [
    { key: 'general.architecture', type: 'string', value: 'llama' },
    { key: 'general.name', type: 'string', value: 'round trip ✓' },
    { key: 'general.file_type', type: 'uint32', value: 15 },
    { key: 'llama.context_length', type: 'uint32', value: 4096 },
    { key: 'llama.embedding_length', type: 'uint32', value: 64 },
    { key: 'llama.block_count', type: 'uint32', value: 1 },
    { key: 'llama.attention.head_count', type: 'uint32', value: 4 },
    { key: 't.u8', type: 'uint8', value: 255 },
    { key: 't.i8', type: 'int8', value: -128 },
    { key: 't.u16', type: 'uint16', value: 65535 },
    { key: 't.i16', type: 'int16', value: -32768 },
    { key: 't.i32', type: 'int32', value: -5 },
    { key: 't.f32', type: 'float32', value: 0.5 },
    { key: 't.f64', type: 'float64', value: Math.PI },
    { key: 't.bool', type: 'bool', value: true },
    { key: 't.u64.big', type: 'uint64', value: 2n ** 53n + 1n },
    { key: 't.u64.small', type: 'uint64', value: 7n },
    { key: 't.i64', type: 'int64', value: -3n },
    { key: 't.strings', type: 'array', itemType: 'string', value: ['a', '', 'ü▁'] },
    { key: 't.floats', type: 'array', itemType: 'float32', value: [0.25, -1.5] },
    { key: 't.ints', type: 'array', itemType: 'int32', value: [1, -2, 3] },
    { key: 't.bools', type: 'array', itemType: 'bool', value: [true, false] },
    { key: 't.empty', type: 'array', itemType: 'int32', value: [] },
  ],
  tensors: [
    { name: 'a', type: 'F32', dims: [3, 2], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
    { name: 'b', type: 'F16', dims: [4], data: () => Float32Array.from([1, -2, 0.5, 65504]) },
    { name: 'c', type: 'Q8_0', dims: [32, 2], data: q8Bytes },
  ],
}

async function sampleFile(name: string, file: GgufFileInput = sample): Promise<string> {
  const path = join(dir, name)
  await writeGguf(path, file)
  return path
}

async function rejects(path: string, pattern: RegExp): Promise<void> {
  await assert.rejects(readGgufHeader(path), (err: unknown) => {
    assert.ok(err instanceof GgufFormatError, `expected a GgufFormatError, got ${String(err)}`)
    assert.equal(err.code, 'RBEE_GGUF_INVALID')
    assert.equal(err.path, path)
    assert.ok(err.message.includes(path), 'the message names the file')
    assert.match(err.message, pattern)
    return true
  })
}

test('metadata and tensor infos survive a write/read round trip', async () => {
  const path = await sampleFile('round-trip.gguf')
  const h = await readGgufHeader(path)
  assert.equal(h.version, 3)
  assert.equal(h.architecture, 'llama')
  assert.equal(h.name, 'round trip ✓')
  assert.equal(h.quantization, 'Q4_K_M')
  assert.equal(h.contextLength, 4096)
  assert.equal(h.embeddingLength, 64)
  assert.equal(h.blockCount, 1)
  assert.equal(h.headCount, 4)
  assert.equal(h.headCountKv, 4, 'head_count_kv defaults to head_count')
  assert.equal(h.parameterCount, 6 + 4 + 64)
  assert.equal(h.alignment, 32)
  assert.deepEqual(
    [...h.metadata.entries()],
    [
      ...sample.metadata.map((e) => {
        const v = e.value
        if (typeof v === 'bigint' && Number.isSafeInteger(Number(v))) return [e.key, Number(v)]
        return [e.key, v]
      }),
      ['general.alignment', 32],
    ],
  )
  assert.equal(h.dataOffset % 32, 0)
  assert.deepEqual(
    h.tensors.map(({ name, type, dims, offset, byteSize, elementCount }) => [
      name,
      type,
      dims,
      offset - h.dataOffset,
      byteSize,
      elementCount,
    ]),
    [
      ['a', 'F32', [3, 2], 0, 24, 6],
      ['b', 'F16', [4], 32, 8, 4],
      ['c', 'Q8_0', [32, 2], 64, 68, 64],
    ],
  )
  assert.equal(h.fileSize, h.dataOffset + 64 + 96, 'the last tensor is padded to the alignment too')

  const bytes = await readFile(path)
  const [a, b, c] = h.tensors
  assert.ok(a && b && c)
  assert.deepEqual(
    [...new Float32Array(bytes.buffer.slice(bytes.byteOffset + a.offset, bytes.byteOffset + a.offset + 24))],
    [1, 2, 3, 4, 5, 6],
  )
  assert.deepEqual(
    [0, 1, 2, 3].map((i) => bytes.readUInt16LE(b.offset + 2 * i)),
    [1, -2, 0.5, 65504].map(float32ToFloat16Bits),
  )
  assert.deepEqual(bytes.subarray(c.offset, c.offset + 68), Buffer.from(q8Bytes))
  assert.deepEqual(encodeGguf(sample), bytes, 'encodeGguf and writeGguf produce the same bytes')
})

test('reading with tiny chunks gives the same header as the default chunk size', async () => {
  const path = await sampleFile('chunks.gguf')
  assert.deepEqual(await readGgufHeader(path, { chunkSize: 16 }), await readGgufHeader(path))
})

test('the reader reads only the header of a multi-gigabyte file with a large vocabulary', async () => {
  const tokens = Array.from({ length: 150_000 }, (_, i) => `token${i}`)
  const file: GgufFileInput = {
    metadata: [
      { key: 'general.architecture', type: 'string', value: 'llama' },
      { key: 'tokenizer.ggml.tokens', type: 'array', itemType: 'string', value: tokens },
      { key: 'tokenizer.ggml.scores', type: 'array', itemType: 'float32', value: tokens.map((_, i) => -i) },
    ],
    tensors: [
      { name: 'huge', type: 'F16', dims: [4096, 4096, 128], data: () => assert.fail('data is not read') },
    ],
  }
  const header = ggufChunks(file).next().value
  assert.ok(header)
  const path = join(dir, 'huge.gguf')
  await writeFile(path, header)
  await truncate(path, header.length + 4096 * 4096 * 128 * 2) // sparse: 4 GiB of zeros on no disk
  const started = performance.now()
  const h = await readGgufHeader(path)
  assert.ok(
    performance.now() - started < 5000,
    'reading the header takes well under a second on a quiet machine',
  )
  assert.equal(h.fileSize, 4 * 1024 ** 3 + header.length)
  assert.equal(h.vocabSize, 150_000)
  assert.equal(h.parameterCount, 4096 * 4096 * 128)
  assert.equal(h.quantization, 'F16')
})

test('without general.file_type the quantization is the type holding most matrix elements', async () => {
  const path = await sampleFile('dominant.gguf', {
    metadata: [{ key: 'general.architecture', type: 'string', value: 'llama' }],
    tensors: [
      { name: 'norm', type: 'F32', dims: [512], data: new Float32Array(512) },
      { name: 'q', type: 'Q8_0', dims: [32, 4], data: new Uint8Array(136) },
      { name: 'h', type: 'F16', dims: [8, 2], data: new Float32Array(16) },
    ],
  })
  assert.equal((await readGgufHeader(path)).quantization, 'Q8_0')
})

test('the reader rejects files that are not GGUF without quoting their bytes', async () => {
  const text = join(dir, 'notes.gguf')
  await writeFile(text, 'these are my notes, not a model\n')
  await rejects(text, /not a GGUF file: it does not start with the GGUF magic$/)
  await assert.rejects(readGgufHeader(text), (err: Error) => !/thes|0x/.test(err.message))
  const empty = join(dir, 'empty.gguf')
  await writeFile(empty, '')
  await rejects(empty, /not a GGUF file: only 0 bytes/)
})

test('the reader rejects a file truncated anywhere', async () => {
  const path = await sampleFile('whole.gguf')
  const { dataOffset, fileSize } = await readGgufHeader(path)
  const whole = await readFile(path)
  const cuts = [6, 20, 30, 200, dataOffset - 40, dataOffset, dataOffset + 40, fileSize - 29]
  for (const cut of cuts) {
    const cutPath = join(dir, `cut-${cut}.gguf`)
    await writeFile(cutPath, whole.subarray(0, cut))
    await rejects(cutPath, /truncated/)
  }
  // the last tensor, c, ends 28 bytes of padding before the end of the file
  await truncate(path, fileSize - 29)
  await rejects(path, /truncated: tensor c data ends at byte \d+ but the file has \d+ bytes/)
})

/** Writes the sample with `patch` applied to its bytes. */
async function patched(name: string, patch: (bytes: Buffer) => void): Promise<string> {
  const bytes = encodeGguf(sample)
  patch(bytes)
  const path = join(dir, name)
  await writeFile(path, bytes)
  return path
}

/** Offset just after the key string `key` in the encoded sample. */
function afterKey(bytes: Buffer, key: string): number {
  const at = bytes.indexOf(Buffer.from(key))
  assert.ok(at > 0)
  return at + key.length
}

test('the reader rejects absurd counts and lengths quickly, without allocating them', async () => {
  const started = performance.now()
  await rejects(
    await patched('tensors.gguf', (b) => b.writeBigUInt64LE(1n << 40n, 8)),
    /tensor count 1099511627776 cannot fit/,
  )
  await rejects(
    await patched('kvs.gguf', (b) => b.writeBigUInt64LE(0xffffffffffffffffn, 16)),
    /metadata count \d+ is absurdly large/,
  )
  await rejects(
    await patched('key.gguf', (b) => b.writeBigUInt64LE(1n << 50n, 24)),
    /key of metadata entry 0 length \d+ exceeds/,
  )
  await rejects(
    await patched('array.gguf', (b) => b.writeBigUInt64LE(1n << 20n, afterKey(b, 't.ints') + 8)),
    /array t.ints length 1048576 cannot fit/,
  )
  await rejects(
    await patched('huge-array.gguf', (b) => b.writeBigUInt64LE(1n << 31n, afterKey(b, 't.ints') + 8)),
    /array t.ints has 2147483648 elements, over the 4194304 limit/,
  )
  await rejects(
    await patched('string.gguf', (b) => b.writeBigUInt64LE(1n << 33n, afterKey(b, 'general.name') + 4)),
    /string value of general.name length 8589934592 exceeds/,
  )
  assert.ok(performance.now() - started < 2000, 'rejections take milliseconds')
})

test('the reader rejects unknown versions, value types and tensor types', async () => {
  await rejects(await patched('v1.gguf', (b) => b.writeUInt32LE(1, 4)), /unsupported GGUF version 1/)
  await rejects(await patched('be.gguf', (b) => b.writeUInt32BE(3, 4)), /big-endian/)
  await rejects(
    await patched('vtype.gguf', (b) => b.writeUInt32LE(99, afterKey(b, 't.u8'))),
    /t.u8 has unknown value type 99/,
  )
  await rejects(
    await patched('ttype.gguf', (b) => {
      // tensor info "c": name, n_dims = 2, two dims, then the type
      const at = b.lastIndexOf(Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 0x63]))
      b.writeUInt32LE(4, at + 9 + 4 + 16)
    }),
    /tensor c has unknown or retired ggml type 4/,
  )
})

test('the reader requires general.architecture and integer architecture fields', async () => {
  await rejects(
    await sampleFile('no-arch.gguf', {
      metadata: [{ key: 'general.name', type: 'string', value: 'x' }],
      tensors: [],
    }),
    /general.architecture is missing/,
  )
  await rejects(
    await sampleFile('bad-field.gguf', {
      metadata: [
        { key: 'general.architecture', type: 'string', value: 'llama' },
        { key: 'llama.context_length', type: 'string', value: 'long' },
      ],
      tensors: [],
    }),
    /llama.context_length must be a non-negative integer/,
  )
})

test('the reader refuses a FIFO, a directory and a device at once instead of waiting on them', {
  timeout: 10_000,
}, async () => {
  const fifo = join(dir, 'pipe.gguf')
  execFileSync('mkfifo', [fifo])
  const started = performance.now()
  await rejects(fifo, /not a regular file/)
  assert.ok(performance.now() - started < 1000, 'no wait for a writer')
  await rejects(dir, /not a regular file/)
  await rejects('/dev/zero', /not a regular file/)
})

test('a missing file fails with the file system error, not a format error', async () => {
  await assert.rejects(readGgufHeader(join(dir, 'absent.gguf')), { code: 'ENOENT' })
})

test('the writer refuses values that do not fit their type and duplicate names', () => {
  const arch = { key: 'general.architecture', type: 'string', value: 'llama' } as const
  assert.throws(
    () => encodeGguf({ metadata: [{ key: 'x', type: 'uint8', value: 256 }], tensors: [] }),
    TypeError,
  )
  assert.throws(() => encodeGguf({ metadata: [arch, arch], tensors: [] }), /listed twice/)
  assert.throws(
    () =>
      encodeGguf({
        metadata: [arch],
        tensors: [{ name: 'q', type: 'Q8_0', dims: [16], data: new Uint8Array(17) }],
      }),
    /block size/,
  )
  assert.throws(
    () =>
      encodeGguf({
        metadata: [arch],
        tensors: [{ name: 'f', type: 'F32', dims: [4], data: new Float32Array(3) }],
      }),
    /3 values for 4 elements/,
  )
})
