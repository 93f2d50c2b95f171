import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { BENCH_MODEL_SPEC, TINY_MODEL_SPEC } from './builtin-model.js'
import { readGgufHeader } from './gguf-reader.js'
import { TOKEN_TYPE } from './llama-vocab.js'
import { describeLlamaModel, generateLlamaModel, writeLlamaModel } from './model-generator.js'
import { scratchDir } from './scratch-dir.js'

const dir = await scratchDir('generator')
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

test('the same spec generates byte-identical models, a different seed a different one', async () => {
  const first = generateLlamaModel(TINY_MODEL_SPEC)
  const second = generateLlamaModel({ ...TINY_MODEL_SPEC })
  assert.equal(sha256(first), sha256(second))
  const written = await writeLlamaModel(TINY_MODEL_SPEC, join(dir, 'tiny.gguf'))
  assert.deepEqual(written, { size: first.length, sha256: sha256(first) })
  assert.notEqual(sha256(generateLlamaModel({ ...TINY_MODEL_SPEC, seed: 1 })), sha256(first))
})

test('the tiny model is byte-identical on every machine', () => {
  // Hives generate `tiny` themselves and report its sha256; if this changes on purpose, update it.
  assert.equal(
    sha256(generateLlamaModel(TINY_MODEL_SPEC)),
    'a8095fb36d1faa506128f1cee624871602474f40b5509ea9b33bc1a73139991b',
  )
})

test('the tiny model has llama metadata, a tokenizer and correctly shaped tensors', async () => {
  const path = join(dir, 'shape.gguf')
  await writeLlamaModel(TINY_MODEL_SPEC, path)
  const h = await readGgufHeader(path)
  assert.ok(h.fileSize > 100_000 && h.fileSize < 1_000_000, `${h.fileSize} bytes`)
  assert.equal(h.architecture, 'llama')
  assert.equal(h.name, 'tiny')
  assert.equal(h.quantization, 'F32')
  assert.deepEqual(
    [h.contextLength, h.embeddingLength, h.blockCount, h.feedForwardLength, h.headCount, h.headCountKv],
    [2048, 64, 2, 128, 4, 2],
  )
  const m = h.metadata
  assert.equal(m.get('llama.rope.dimension_count'), 16)
  assert.equal(m.get('tokenizer.ggml.model'), 'llama')
  assert.equal(m.get('tokenizer.ggml.add_bos_token'), true)
  assert.match(String(m.get('tokenizer.chat_template')), /<\|im_start\|>.*<tool_call>.*add_generation_prompt/)
  const tokens = m.get('tokenizer.ggml.tokens')
  const types = m.get('tokenizer.ggml.token_type')
  assert.ok(Array.isArray(tokens) && Array.isArray(types))
  assert.equal(h.vocabSize, tokens.length)
  const typeOf = (text: string) => types[tokens.indexOf(text)]
  assert.equal(typeOf('<unk>'), TOKEN_TYPE.unknown)
  for (const control of ['<s>', '</s>', '<|im_start|>', '<|im_end|>'])
    assert.equal(typeOf(control), TOKEN_TYPE.control)
  assert.equal(typeOf('<0x00>'), TOKEN_TYPE.byte)
  assert.equal(typeOf('<0xFF>'), TOKEN_TYPE.byte)
  assert.equal(tokens.filter((_, i) => types[i] === TOKEN_TYPE.byte).length, 256)
  for (const normal of ['\u2581', '!', 'A', '~', '\u2581the']) assert.equal(typeOf(normal), TOKEN_TYPE.normal)
  assert.equal(m.get('tokenizer.ggml.bos_token_id'), tokens.indexOf('<s>'))
  assert.equal(m.get('tokenizer.ggml.eos_token_id'), tokens.indexOf('</s>'))

  const nVocab = tokens.length
  const dims = new Map(h.tensors.map((t) => [t.name, t.dims]))
  assert.deepEqual(dims.get('token_embd.weight'), [64, nVocab])
  assert.deepEqual(dims.get('output.weight'), [64, nVocab])
  assert.deepEqual(dims.get('output_norm.weight'), [64])
  for (const b of [0, 1]) {
    assert.deepEqual(dims.get(`blk.${b}.attn_q.weight`), [64, 64])
    assert.deepEqual(dims.get(`blk.${b}.attn_k.weight`), [64, 32])
    assert.deepEqual(dims.get(`blk.${b}.attn_v.weight`), [64, 32])
    assert.deepEqual(dims.get(`blk.${b}.attn_output.weight`), [64, 64])
    assert.deepEqual(dims.get(`blk.${b}.ffn_gate.weight`), [64, 128])
    assert.deepEqual(dims.get(`blk.${b}.ffn_up.weight`), [64, 128])
    assert.deepEqual(dims.get(`blk.${b}.ffn_down.weight`), [128, 64])
  }
  assert.equal(h.tensors.length, 3 + 2 * 9)
})

test('the bench model keeps matrices in F16 and norms in F32 at tens of MB', () => {
  const { metadata, tensors } = describeLlamaModel(BENCH_MODEL_SPEC)
  assert.deepEqual(metadata.find((e) => e.key === 'general.file_type')?.value, 1)
  for (const t of tensors) assert.equal(t.type, t.dims.length === 1 ? 'F32' : 'F16', t.name)
  const bytes = tensors.reduce(
    (sum, t) => sum + t.dims.reduce((a, b) => a * b, 1) * (t.type === 'F16' ? 2 : 4),
    0,
  )
  assert.ok(bytes > 20e6 && bytes < 100e6, `${bytes} bytes of weights`)
})

test('no layer writes to d0, and only printable tokens escape its penalty in the output layer', async () => {
  const path = join(dir, 'd0.gguf')
  await writeLlamaModel(TINY_MODEL_SPEC, path)
  const h = await readGgufHeader(path)
  const bytes = await readFile(path)
  const f32 = (name: string) => {
    const t = h.tensors.find((x) => x.name === name)
    assert.ok(t)
    return new Float32Array(
      bytes.buffer.slice(bytes.byteOffset + t.offset, bytes.byteOffset + t.offset + t.byteSize),
    )
  }
  const n = 64
  const tokens = h.metadata.get('tokenizer.ggml.tokens')
  const types = h.metadata.get('tokenizer.ggml.token_type')
  assert.ok(Array.isArray(tokens) && Array.isArray(types))
  const embd = f32('token_embd.weight')
  const out = f32('output.weight')
  for (let tok = 0; tok < tokens.length; tok++) {
    assert.equal(embd[tok * n], 4, 'every embedding sets d0')
    const printable: boolean = types[tok] === TOKEN_TYPE.normal
    assert.equal(out[tok * n] ?? Number.NaN, printable ? 0 : -200, `output row of ${String(tokens[tok])}`)
    if (printable) assert.match(String(tokens[tok]).replaceAll('\u2581', ' '), /^[\x20-\x7e]+$/)
  }
  for (const b of [0, 1]) {
    for (const name of [`blk.${b}.attn_output.weight`, `blk.${b}.ffn_down.weight`]) {
      const w = f32(name)
      const rowLength = w.length / n
      assert.ok(
        w.subarray(0, rowLength).every((x) => x === 0),
        `${name} leaves d0 alone`,
      )
      assert.ok(w.subarray(rowLength).some((x) => x !== 0))
    }
    assert.equal(f32(`blk.${b}.attn_norm.weight`)[0], 0, 'layers do not see d0')
  }
})

test('the generator refuses specs llama.cpp could not load', () => {
  assert.throws(() => generateLlamaModel({ ...TINY_MODEL_SPEC, headCount: 3 }), /even integer/)
  assert.throws(() => generateLlamaModel({ ...TINY_MODEL_SPEC, headCountKv: 3 }), /divide headCount/)
  assert.throws(() => generateLlamaModel({ ...TINY_MODEL_SPEC, name: '../evil' }), /safe file name/)
  assert.throws(() => generateLlamaModel({ ...TINY_MODEL_SPEC, blockCount: 0 }), RangeError)
})
