import assert from 'node:assert/strict'
import { test } from 'node:test'
import { installErrorHandling } from '@rbee/common'
import { PEER_HUB_PATH } from '@rbee/contracts'
import { catalogEntry } from '@rbee/testing'
import Fastify from 'fastify'
import type { ModelCatalog } from '../catalog/model-catalog.js'
import { parseRange, registerPeerHubRoutes } from './peer-hub-routes.js'

test('a single byte range is resolved against the size; several ranges or another unit get the whole file', () => {
  assert.deepEqual(parseRange('bytes=0-9', 100), { start: 0, end: 9 })
  assert.deepEqual(parseRange('bytes=90-', 100), { start: 90, end: 99 })
  assert.deepEqual(parseRange('bytes=95-500', 100), { start: 95, end: 99 })
  assert.deepEqual(parseRange('bytes=-10', 100), { start: 90, end: 99 })
  assert.deepEqual(parseRange('bytes=-500', 100), { start: 0, end: 99 })
  for (const whole of [
    undefined,
    'bytes=0-1,5-6',
    'items=0-1',
    'bytes=-',
    'bytes=x-1',
    `bytes=${'9'.repeat(17)}-`,
  ])
    assert.equal(parseRange(whole, 100), undefined, String(whole))
})

test('a range past the end, backwards or empty is unsatisfiable (416)', () => {
  for (const bad of ['bytes=100-', 'bytes=100-200', 'bytes=9-3', 'bytes=-0'])
    assert.equal(parseRange(bad, 100), 'unsatisfiable', bad)
})

test('a file deleted after the catalog checked it is a 404, not a 500 or a cut response', async () => {
  const source = 'hf:acme/gone-GGUF:gone.gguf'
  const entry = { ...catalogEntry('gone', 100), source, path: '/nonexistent/rbee-test/gone.gguf' }
  // The catalog still vouches for the file (it was checked a moment before it was deleted).
  const catalog = { find: () => true, get: async () => ({ entry, problem: null }) }
  const app = Fastify()
  installErrorHandling(app, { shapeOf: () => 'rbee', disclose: () => true })
  registerPeerHubRoutes(app, { catalog: () => catalog as unknown as ModelCatalog, maxTransfers: 1 })
  try {
    for (const range of [undefined, 'bytes=0-9']) {
      const res = await app.inject({
        url: `${PEER_HUB_PATH}/acme/gone-GGUF/resolve/main/gone.gguf`,
        headers: range ? { range } : {},
      })
      assert.equal(res.statusCode, 404, res.body)
      assert.equal(res.json().error.code, 'RBEE_NOT_FOUND')
      assert.equal(res.headers.etag, undefined, 'the 404 says nothing about the file')
    }
  } finally {
    await app.close()
  }
})
