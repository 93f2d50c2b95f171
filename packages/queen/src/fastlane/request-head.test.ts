import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseRequestHead } from './request-head.js'

const head = (...lines: string[]): string => lines.join('\r\n')

test('a plain HTTP/1.1 POST with a Content-Length is taken, header names lower-cased', () => {
  assert.deepEqual(
    parseRequestHead(
      head(
        'POST /v1/completions HTTP/1.1',
        'Host: q',
        'Authorization: Bearer k',
        'Content-Length: 12',
        'Connection: close',
      ),
    ),
    {
      method: 'POST',
      path: '/v1/completions',
      headers: { host: 'q', authorization: 'Bearer k', 'content-length': '12', connection: 'close' },
      contentLength: 12,
      close: true,
    },
  )
  assert.equal(parseRequestHead(head('POST /v1/completions HTTP/1.1', 'content-length: 0'))?.close, false)
})

test('anything unusual is left to node:http', () => {
  const cases: Array<[string, string]> = [
    ['HTTP/1.0', head('POST /v1/completions HTTP/1.0', 'content-length: 2')],
    ['no Content-Length', head('POST /v1/completions HTTP/1.1', 'host: q')],
    ['chunked body', head('POST /v1/completions HTTP/1.1', 'transfer-encoding: chunked')],
    ['both framings', head('POST /x HTTP/1.1', 'content-length: 2', 'transfer-encoding: chunked')],
    ['two Content-Lengths', head('POST /x HTTP/1.1', 'content-length: 2', 'content-length: 2')],
    ['a negative length', head('POST /x HTTP/1.1', 'content-length: -2')],
    ['Expect', head('POST /x HTTP/1.1', 'content-length: 2', 'expect: 100-continue')],
    ['a space in a name', head('POST /x HTTP/1.1', 'content length: 2')],
    ['a control byte in a value', head('POST /x HTTP/1.1', 'content-length: 2', 'x-a: b\u0000')],
    ['a relative target', head('POST v1/completions HTTP/1.1', 'content-length: 2')],
    ['a lower-case method', head('post /x HTTP/1.1', 'content-length: 2')],
    ['a folded header', head('POST /x HTTP/1.1', 'content-length: 2', ' folded')],
  ]
  for (const [what, text] of cases) assert.equal(parseRequestHead(text), undefined, what)
})
