import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { MAX_JSON_DEPTH, readSse, silentLogger } from '@rbee/common'
import { assertCutOffAt, trickleRequest } from '@rbee/testing'
import { Hive } from './hive.js'

// Short deadlines, so a test waits a fraction of a second for what takes 10 s in production.
const HEADERS_MS = 400
const BODY_MS = 600
/** How late a cut-off may come: node checks its deadlines every quarter of the shorter one. */
const SLACK_MS = 400

let hive: Hive
let home: string
before(async () => {
  home = await mkdtemp(join(tmpdir(), 'rbee-hive-limits-'))
  hive = new Hive({
    home,
    port: 0,
    logger: silentLogger(),
    nvidiaSmi: null,
    backendProbe: null,
    telemetryIntervalMs: 100,
    requestDeadlines: { headersMs: HEADERS_MS, bodyMs: BODY_MS },
  })
  await hive.start()
})
after(async () => {
  await hive.close()
  await rm(home, { recursive: true, force: true })
})

describe('hive request deadlines (node:http, as in every daemon)', () => {
  test('a client whose request head trickles in gets a 408 and is cut off at the headers deadline', async () => {
    const outcome = await trickleRequest(hive.port, {
      start: 'GET /health HTTP/1.1\r\n',
      drip: 'X-Slow: a\r\n',
    })
    assertCutOffAt(outcome, HEADERS_MS, SLACK_MS)
  })

  test('a client whose body trickles in gets a 408 and is cut off at the request deadline', async () => {
    const outcome = await trickleRequest(hive.port, {
      start:
        'POST /v1/jobs HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n',
      drip: '[',
    })
    assertCutOffAt(outcome, HEADERS_MS + BODY_MS, SLACK_MS)
  })

  test('an answer that streams for longer than the deadlines is not cut off', async () => {
    const res = await fetch(`${hive.localUrl}/v1/heartbeats/stream`)
    const t0 = Date.now()
    let events = 0
    for await (const _ of readSse(res.body!)) {
      events++
      if (Date.now() - t0 > 2 * (HEADERS_MS + BODY_MS + SLACK_MS)) break
    }
    assert.ok(events > 10, `${events} telemetry events`)
  })
})

describe('hive JSON nesting limit', () => {
  test('deep nesting in an unknown field of a job gets a 400 naming the limit, and the hive keeps serving', async () => {
    // As deep as fits in the hive's 1 MiB body limit (two million levels are refused for size).
    const deep = '['.repeat(500_000) + ']'.repeat(500_000)
    const res = await fetch(`${hive.localUrl}/v1/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"operation":"status","x":${deep}}`,
    })
    assert.equal(res.status, 400)
    const body = (await res.json()) as { error: { code: string; message: string } }
    assert.equal(body.error.code, 'RBEE_BAD_REQUEST')
    assert.match(body.error.message, new RegExp(`deeper than ${MAX_JSON_DEPTH} levels`))
    assert.equal((await fetch(`${hive.localUrl}/health`)).status, 200)
  })
})
