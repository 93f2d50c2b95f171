import assert from 'node:assert/strict'
import { request } from 'node:http'
import { after, before, describe, test } from 'node:test'
import { MAX_JSON_DEPTH, silentLogger } from '@rbee/common'
import { assertCutOffAt, trickleRequest } from '@rbee/testing'
import { Queen } from './queen.js'

// Short deadlines, so a test waits a fraction of a second for what takes 10 s in production.
const HEADERS_MS = 400
const BODY_MS = 600
/** How late a cut-off may come: node checks its deadlines every quarter of the shorter one. */
const SLACK_MS = 400

let queen: Queen
before(async () => {
  queen = new Queen({
    port: 0,
    logger: silentLogger(),
    requestDeadlines: { headersMs: HEADERS_MS, bodyMs: BODY_MS },
  })
  await queen.start()
})
after(() => queen.close())

const chatHead = (extra: string): string =>
  `POST /v1/chat/completions HTTP/1.1\r\nHost: q\r\nContent-Type: application/json\r\n${extra}`

describe('queen request deadlines', () => {
  test('the fast lane answers 408 and closes a connection whose completion request head trickles in', async () => {
    const outcome = await trickleRequest(queen.port, { start: chatHead(''), drip: 'X-Slow: a\r\n' })
    assertCutOffAt(outcome, HEADERS_MS, SLACK_MS)
  })

  test('the fast lane answers 408 and closes a connection whose completion body trickles in', async () => {
    const outcome = await trickleRequest(queen.port, {
      start: chatHead('Content-Length: 100000\r\n\r\n'),
      drip: '[',
    })
    assertCutOffAt(outcome, BODY_MS, SLACK_MS)
  })

  test('a request the fast lane hands over to node:http is held to the same deadlines there', async () => {
    const head = await trickleRequest(queen.port, {
      start: 'GET /v1/info HTTP/1.1\r\n',
      drip: 'X-Slow: a\r\n',
    })
    assertCutOffAt(head, HEADERS_MS, SLACK_MS)
    const body = await trickleRequest(queen.port, {
      start:
        'POST /v1/jobs HTTP/1.1\r\nHost: q\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n',
      drip: '[',
    })
    assertCutOffAt(body, HEADERS_MS + BODY_MS, SLACK_MS)
  })
})

const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth)

/** POSTs `body` as JSON, by Content-Length or chunked; resolves with the status and JSON body. */
function postJson(
  path: string,
  body: string,
  chunked: boolean,
): Promise<{ status: number; body: { error: { code: string; message: string } } }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: queen.port,
        path,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': Buffer.byteLength(body) }),
        },
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => {
          text += c
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }))
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

describe('queen JSON nesting limit', () => {
  const deep = nested(2_000_000)
  const refused = (r: { status: number; body: { error: { code: string; message: string } } }): void => {
    assert.equal(r.status, 400)
    assert.equal(r.body.error.code, 'RBEE_BAD_REQUEST')
    assert.match(r.body.error.message, new RegExp(`deeper than ${MAX_JSON_DEPTH} levels`))
  }
  const chat = `{"model":"tiny","messages":[{"role":"user","content":"hi"}],"x":${deep}}`

  test('two million levels in an unknown field of a completion request get a 400 on the fast lane', async () => {
    refused(await postJson('/v1/chat/completions', chat, false))
  })

  test('two million levels in an unknown field get a 400 through node:http (chunked), not a 500', async () => {
    refused(await postJson('/v1/chat/completions', chat, true))
    refused(await postJson('/v1/completions', `{"model":"tiny","prompt":"hi","x":${deep}}`, true))
  })

  test('the jobs API and the node routes refuse deep nesting too, and the queen keeps serving', async () => {
    refused(await postJson('/v1/jobs', `{"operation":"status","x":${deep}}`, false))
    // The node routes take 256 KiB: as deep as fits.
    refused(await postJson('/v1/worker-heartbeat', `{"x":${nested(100_000)}}`, false))
    const health = await fetch(`http://127.0.0.1:${queen.port}/health`)
    assert.equal(health.status, 200)
  })
})
