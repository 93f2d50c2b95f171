import assert from 'node:assert/strict'
import { test } from 'node:test'
import { z } from 'zod'
import { IdSchema } from './common.js'
import { HfRefSchema, ImportDeniedSchema, ModelEntrySchema, ModelRefSchema } from './model.js'
import { rejectsAt, roundTrips } from './test-support/contract-table.js'
import { NOW } from './test-support/wire-examples.js'

const entry = {
  id: 'tiny',
  source: 'hf:ggml-org/models:tinyllamas/stories260K.gguf',
  path: '/var/lib/rbee/models/tiny.gguf',
  size_bytes: 1_185_376,
  sha256: 'a'.repeat(64),
  architecture: 'llama',
  parameter_count: 292_000,
  quantization: 'F32',
  context_length: 512,
  memory_estimate_mb: 12,
  added_at: NOW,
  last_used_at: null,
  available: true,
  builtin: true,
}

const GOOD_REFS = [
  'tiny',
  'qwen2.5-0.5b-instruct',
  'hf:org/repo',
  'hf:org/repo:file.Q4_K_M.gguf',
  'hf:TheBloke/Llama-2-7B-GGUF:llama-2-7b.Q4_K_M.gguf',
  'hf:ggml-org/models:tinyllamas/stories260K.gguf',
]

const BAD_REFS = [
  '',
  '..',
  '../etc/passwd',
  'a/b',
  '/etc/passwd',
  'hf:org/repo:../x.gguf',
  'hf:org/repo:dir/../../x.gguf',
  'hf:org/..',
  'hf:../repo',
  'hf:org/repo:/etc/x.gguf',
  'hf:org/repo:x.bin',
  'hf:org/repo:x.gguf/../y.gguf',
  'hf:org/repo:a\\..\\b.gguf',
  'hf:org/repo/extra',
  'hf:org',
  'https://huggingface.co/org/repo',
]

test('ModelRefSchema accepts catalog ids and Hugging Face references, unchanged through JSON', () => {
  for (const ref of GOOD_REFS) assert.equal(roundTrips(ModelRefSchema, ref), ref)
})

test('ModelRefSchema rejects path tricks and malformed references, naming the model field', () => {
  const Body = z.object({ model: ModelRefSchema })
  for (const ref of BAD_REFS) rejectsAt(Body, { model: ref }, 'model')
})

test('IdSchema alone rejects every path trick that ModelRefSchema rejects as a catalog id', () => {
  for (const ref of ['..', '../etc/passwd', 'a/b', '/etc/passwd']) {
    assert.equal(IdSchema.safeParse(ref).success, false, ref)
  }
})

test('HfRefSchema takes only hf: references, not catalog ids', () => {
  assert.equal(HfRefSchema.safeParse('hf:org/repo:file.Q4_K_M.gguf').success, true)
  assert.equal(HfRefSchema.safeParse('tiny').success, false)
  assert.equal(HfRefSchema.safeParse(`hf:org/${'r'.repeat(600)}`).success, false)
})

test('ModelEntrySchema accepts a catalog row unchanged through a JSON round trip', () => {
  assert.deepEqual(roundTrips(ModelEntrySchema, entry), entry)
  const used = { ...entry, id: 'qwen', builtin: false, last_used_at: NOW, available: false }
  assert.deepEqual(roundTrips(ModelEntrySchema, used), used)
})

test('ModelEntrySchema keeps the reason an unavailable model cannot be served', () => {
  const gone = { ...entry, available: false, unavailable_reason: 'file /m/x.gguf has vanished' }
  assert.deepEqual(roundTrips(ModelEntrySchema, gone), gone)
  rejectsAt(ModelEntrySchema, { ...gone, unavailable_reason: 42 }, 'unavailable_reason')
})

test('ModelEntrySchema rejects a bad row, naming the field', () => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ sha256: 'abc' }, 'sha256'],
    [{ sha256: 'A'.repeat(64) }, 'sha256'],
    [{ id: '../x' }, 'id'],
    [{ size_bytes: -1 }, 'size_bytes'],
    [{ added_at: 'yesterday' }, 'added_at'],
    [{ available: 'yes' }, 'available'],
  ]
  for (const [patch, path] of cases) rejectsAt(ModelEntrySchema, { ...entry, ...patch }, path)
})

test('ImportDeniedSchema carries the import dirs a refused path could go in, and needs at least one', () => {
  const denied = { hive_id: 'box', path: '/tmp/x.gguf', import_dirs: ['/home/me/.local/share/rbee/import'] }
  assert.deepEqual(roundTrips(ImportDeniedSchema, denied), denied)
  rejectsAt(ImportDeniedSchema, { ...denied, import_dirs: [] }, 'import_dirs')
  rejectsAt(ImportDeniedSchema, { ...denied, hive_id: '../x' }, 'hive_id')
})
