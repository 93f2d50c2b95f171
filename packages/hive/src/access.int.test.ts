import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { silentLogger } from '@rbee/common'
import { nodeDaemonCredentials, type RouteAccessName, routeTable, walkRoutes } from '@rbee/testing'
import { Hive } from './hive.js'

const NODE_TOKEN = 'node-token-abcdefgh'

/** Who may call each route of a hive: only health is open, the rest is the queen's (node token). */
const HIVE_ROUTES: Record<string, RouteAccessName> = {
  'GET /health': 'public',
  'GET /v1/info': 'node',
  'GET /v1/capabilities': 'node',
  'GET /metrics': 'node',
  'GET /v1/heartbeats/stream': 'node',
  'POST /v1/shutdown': 'node',
  // Other hives fetch model files here (HEAD too) with the same node token.
  'GET /v1/peer-hub/api/models/:org/:repo': 'node',
  'GET /v1/peer-hub/:org/:repo/resolve/main/*': 'node',
  'POST /v1/jobs': 'node',
  'GET /v1/jobs/:id': 'node',
  'GET /v1/jobs/:id/stream': 'node',
  'DELETE /v1/jobs/:id': 'node',
}

// A real hive (in-process, for its route table) with a node token, on a real socket.
describe('who may call each route of rbee-hive', () => {
  let hive: Hive
  let home: string
  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'rbee-hive-access-'))
    hive = new Hive({
      home,
      port: 0,
      token: NODE_TOKEN,
      nvidiaSmi: null,
      backendProbe: null,
      logger: silentLogger(),
      // The walk calls shutdown with the token: it must not stop the hive under the walk.
      onShutdownRequest: () => {},
    })
    await hive.start()
  })
  after(async () => {
    await hive?.close()
    await rm(home, { recursive: true, force: true })
  })

  test('every route declares who may call it, and the table above names them all', () => {
    assert.deepEqual(routeTable(hive.routes), HIVE_ROUTES)
  })

  test('no spelling of any path lets a caller without the node token past health', async () => {
    const violations = await walkRoutes({
      baseUrl: hive.localUrl,
      routes: hive.routes,
      credentials: nodeDaemonCredentials(NODE_TOKEN),
    })
    assert.deepEqual(violations, [])
  })
})
