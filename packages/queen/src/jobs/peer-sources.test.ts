import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RbeeError } from '@rbee/common'
import type { ModelEntry } from '@rbee/contracts'
import { catalogEntry, T0, telemetry } from '@rbee/testing'
import { Registry } from '../registry/registry.js'
import { downloadSources, localOnly, sameSegment } from './peer-sources.js'

const FILE = 'hf:org/repo:m.Q4_K_M.gguf'
const has = (source: string, available = true): ModelEntry => ({
  ...catalogEntry(source.split(':').pop()!.replace('.gguf', ''), 100),
  source,
  available,
})

/** h1 downloads; h2 online with the file; h3 has it but is offline; h4 online with another file of the repo; h5 online with the file gone from disk. */
function fleet(): Registry {
  const registry = new Registry({ now: () => T0, hiveIntervalMs: 1000, workerIntervalMs: 10_000 })
  for (const h of ['h1', 'h2', 'h3', 'h4', 'h5']) registry.upsertHive(h, `http://${h}:7835`, 'config')
  for (const h of ['h1', 'h2', 'h4', 'h5']) registry.hiveEvent(telemetry(h, []))
  registry.setCatalog('h2', [has(FILE)])
  registry.setCatalog('h3', [has(FILE)])
  registry.setCatalog('h4', [has('hf:org/repo:m.Q8_0.gguf')])
  registry.setCatalog('h5', [has(FILE, false)])
  return registry
}

/** Online hives at these URLs, each with the file; `peersOf(target)` are the peers it is given. */
function hivesAt(at: Record<string, string>): { peersOf: (target: string) => string[] } {
  const registry = new Registry({ now: () => T0, hiveIntervalMs: 1000, workerIntervalMs: 10_000 })
  for (const [id, url] of Object.entries(at)) {
    registry.upsertHive(id, url, 'config')
    registry.hiveEvent(telemetry(id, []))
    registry.setCatalog(id, [has(FILE)])
  }
  return {
    peersOf: (target) => downloadSources(registry, op(FILE, undefined, target), target).map((s) => s.hive_id),
  }
}

const op = (model: string, sources?: unknown, hive = 'h1') =>
  ({ operation: 'model_download', hive_id: hive, model, ...(sources ? { sources } : {}) }) as never

test('the peers of a download are the other online hives whose catalog has the file intact', () => {
  const registry = fleet()
  assert.deepEqual(downloadSources(registry, op(FILE), 'h1'), [
    { kind: 'peer', hive_id: 'h2', url: 'http://h2:7835' },
  ])
  // A bare repo: any file of it (the hive picks one, and skips a peer without that one).
  assert.deepEqual(
    downloadSources(registry, op('hf:org/repo'), 'h1').map((s) => s.hive_id),
    ['h2', 'h4'],
  )
  assert.deepEqual(downloadSources(registry, op('hf:org/other'), 'h1'), [])
  assert.deepEqual(downloadSources(registry, op('tiny'), 'h1'), [])
  // The hive that has it is never its own peer.
  assert.deepEqual(downloadSources(registry, op(FILE), 'h2'), [])
})

test('sources a client names are checked against the registry and passed on unchanged', () => {
  const registry = fleet()
  const given = [{ kind: 'peer', hive_id: 'h3', url: 'http://h3:7835/' }]
  assert.deepEqual(downloadSources(registry, op(FILE, given), 'h1'), given)
  assert.deepEqual(downloadSources(registry, op(FILE, []), 'h1'), [], '[]: the hub only')
  const refused = (sources: unknown, field: string) =>
    assert.throws(
      () => downloadSources(registry, op(FILE, sources), 'h1'),
      (err: unknown) =>
        err instanceof RbeeError && err.code === 'RBEE_VALIDATION' && err.message.includes(field),
    )
  refused([{ kind: 'peer', hive_id: 'nope', url: 'http://nope:7835' }], 'sources.0.hive_id')
  refused([{ kind: 'peer', hive_id: 'h1', url: 'http://h1:7835' }], 'sources.0.hive_id')
  refused([given[0], { kind: 'peer', hive_id: 'h2', url: 'http://evil.example:7835' }], 'sources.1.url')
})

test('peers on the downloading hive’s network segment come first', () => {
  const { peersOf } = hivesAt({
    t: 'http://10.0.1.5:7835',
    far: 'http://10.0.2.7:7835',
    near: 'http://10.0.1.9:7835',
    name: 'http://box:7835',
  })
  assert.deepEqual(peersOf('t'), ['near', 'far', 'name'])
  assert.equal(sameSegment('http://[::1]:1', 'http://[::1]:2'), false)
  assert.equal(sameSegment('http://10.0.1.1:1', undefined), false)
})

test('a peer known by a loopback address is handed only to a hive on the same machine', () => {
  const { peersOf } = hivesAt({
    local: 'http://127.0.0.1:7835',
    any: 'http://0.0.0.0:7836',
    remote: 'http://10.0.1.5:7835',
    other: 'http://10.0.1.9:7835',
    beside: 'http://localhost:7837',
  })
  // The queen's in-process hive at 127.0.0.1 would send a remote hive to itself.
  assert.deepEqual(peersOf('remote'), ['other'])
  // A hive on the queen's machine reaches it there.
  assert.deepEqual(peersOf('beside'), ['local', 'any', 'remote'])
  for (const url of [
    'http://127.0.0.1:1',
    'http://127.1.2.3',
    'http://[::1]:1',
    'http://[::]:1',
    'http://LOCALHOST:1',
  ])
    assert.equal(localOnly(url), true, url)
  for (const url of ['http://10.0.0.1:1', 'http://box:1', 'http://[fe80::1]:1', 'not a url'])
    assert.equal(localOnly(url), false, url)
})
