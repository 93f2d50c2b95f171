import assert from 'node:assert/strict'
import { test } from 'node:test'
import { OllamaPsSchema, OllamaTagsSchema } from '@rbee/contracts'
import { catalogEntry, info, stats, T0, telemetry } from '@rbee/testing'
import { Registry } from '../registry/registry.js'
import { fleetModels } from './fleet-models.js'
import { ollamaPs, ollamaTags, parameterSize } from './model-listing.js'
import { progressLine } from './pull-model.js'

test('parameter counts read as Ollama writes them', () => {
  assert.deepEqual(
    [124_992, 494_032_768, 8_000_000_000, 8_540_000_000, 137_000_000, 999].map(parameterSize),
    ['125K', '494.03M', '8B', '8.5B', '137M', '999'],
  )
})

test('tags list the catalog once per model, ps one line per served model with its workers together', () => {
  const registry = new Registry({ now: () => T0 })
  for (const hive of ['h1', 'h2']) registry.upsertHive(hive, `http://${hive}`, 'config')
  const a = info('a', { hive_id: 'h1' })
  const b = info('b', { hive_id: 'h2', port: 40001 })
  registry.hiveEvent(telemetry('h1', [a], { stats: [stats(a, { rss_mb: 100, vram_mb: 0 })] }))
  registry.hiveEvent(telemetry('h2', [b], { stats: [stats(b, { rss_mb: 50, vram_mb: 200 })] }))
  registry.setCatalog('h1', [catalogEntry('tiny', 10)])
  registry.setCatalog('h2', [catalogEntry('tiny', 10), catalogEntry('big', 10)])
  const fleet = fleetModels(registry)
  const tags = OllamaTagsSchema.parse(ollamaTags(fleet))
  assert.deepEqual(
    tags.models.map((m) => [m.name, m.digest, m.details.family, m.details.parameter_size]),
    [
      ['big', 'a'.repeat(64), 'llama', '1K'],
      ['tiny', 'a'.repeat(64), 'llama', '1K'],
    ],
  )
  const ps = OllamaPsSchema.parse(ollamaPs(registry, fleet, (w) => (w.id === 'a' ? T0 + 1000 : Infinity)))
  assert.equal(ps.models.length, 1)
  const [tiny] = ps.models
  assert.deepEqual(
    [tiny?.name, tiny?.workers, tiny?.size, tiny?.size_vram, tiny?.expires_at],
    ['tiny', 2, 350 * 1024 * 1024, 200 * 1024 * 1024, '9999-12-31T23:59:59.999Z'],
  )
})

test("a download's narration becomes Ollama's progress line under the file's digest", () => {
  const narration = (action: string, transfer?: unknown) => ({
    kind: 'narration' as const,
    id: 1,
    narration: {
      actor: 'rbee-hive',
      action,
      human: '…',
      job_id: 'j',
      ts: new Date(T0).toISOString(),
      ...(transfer ? { transfer } : {}),
    },
  })
  const sha = 'b'.repeat(64)
  assert.deepEqual(
    progressLine(
      narration('download_progress', { file: 'm.gguf', sha256: sha, completed: 5, total: 9 }) as never,
    ),
    {
      status: `downloading sha256:${sha}`,
      digest: `sha256:${sha}`,
      total: 9,
      completed: 5,
    },
  )
  assert.deepEqual(
    progressLine(
      narration('download_start', { file: 'm.gguf', sha256: null, completed: 0, total: null }) as never,
    ),
    {
      status: 'downloading m.gguf',
      completed: 0,
    },
  )
  assert.deepEqual(progressLine(narration('download_verify') as never), { status: 'verifying sha256 digest' })
  assert.equal(progressLine(narration('download_pick') as never), undefined)
})
