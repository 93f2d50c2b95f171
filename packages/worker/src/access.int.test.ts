import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { silentLogger } from '@rbee/common'
import {
  nodeDaemonCredentials,
  type RouteAccessName,
  routeTable,
  type StartedWorker,
  startWorker,
  walkRoutes,
} from '@rbee/testing'
import { Worker } from './worker.js'

const NODE_TOKEN = 'node-token-abcdefgh'

/** Who may call each route of a worker: only health is open, the rest is the queen's and hive's. */
const WORKER_ROUTES: Record<string, RouteAccessName> = {
  'GET /health': 'public',
  'GET /v1/ready': 'node',
  'GET /v1/info': 'node',
  'POST /v1/infer': 'node',
  'DELETE /v1/infer/:id': 'node',
  'GET /v1/models': 'node',
  'POST /v1/chat/completions': 'node',
  'POST /v1/completions': 'node',
  'POST /v1/embeddings': 'node',
  'GET /metrics': 'node',
  'POST /v1/rerank': 'node',
  'POST /rerank': 'node',
  'GET /api/version': 'node',
  'POST /api/embed': 'node',
  'POST /api/embeddings': 'node',
  'POST /api/chat': 'node',
  'POST /api/generate': 'node',
  'POST /v1/messages': 'node',
  'POST /v1/messages/count_tokens': 'node',
  'POST /v1/responses': 'node',
}

describe('who may call each route of llm-worker-rbee', () => {
  // The route table of the code under test (constructed, never started: no model is loaded).
  const routes = new Worker({
    id: 'w-table',
    modelRef: 'tiny',
    host: '127.0.0.1',
    port: 0,
    apiToken: NODE_TOKEN,
    heartbeatIntervalMs: 10_000,
    graceMs: 0,
    slots: 1,
    device: [0],
    logger: silentLogger(),
    loadEngine: () => Promise.reject(new Error('not started')),
  }).routes
  let worker: StartedWorker
  before(async () => {
    worker = await startWorker({ args: ['--api-token', NODE_TOKEN] })
  })
  after(() => worker?.close())

  test('every route declares who may call it, and the table above names them all', () => {
    assert.deepEqual(routeTable(routes), WORKER_ROUTES)
  })

  test('no spelling of any path lets a caller without the node token past health', async () => {
    const violations = await walkRoutes({
      baseUrl: worker.url,
      routes,
      credentials: nodeDaemonCredentials(NODE_TOKEN),
    })
    assert.deepEqual(violations, [])
  })
})
