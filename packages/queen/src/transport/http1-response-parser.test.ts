import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Http1ResponseParser, type ResponseHead } from './http1-response-parser.js'

/** Feeds `wire` split at every given offset; returns what the handlers saw. */
function parse(wire: string, splits: number[] = [], end = false) {
  const seen: { head?: ResponseHead; body: string; complete?: boolean } = { body: '' }
  const p = new Http1ResponseParser({
    onHead: (h) => (seen.head = h),
    onBody: (b) => (seen.body += b.toString('latin1')),
    onComplete: (keepAlive) => (seen.complete = keepAlive),
  })
  const bytes = Buffer.from(wire, 'latin1')
  let from = 0
  for (const at of [...splits, bytes.length]) {
    p.feed(bytes.subarray(from, at))
    from = at
  }
  if (end) p.end()
  return seen
}

const SSE =
  'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\nKeep-Alive: timeout=72\r\n\r\n' +
  '7\r\ndata: 1\r\n' +
  'a;ext=1\r\ndata: 22\n\n\r\n' +
  '0\r\n\r\n'

test('a chunked answer is read whole however the bytes are split, framing removed, connection reusable', () => {
  const whole = parse(SSE)
  assert.equal(whole.head?.status, 200)
  assert.equal(whole.head?.headers['content-type'], 'text/event-stream')
  assert.equal(whole.head?.headers['keep-alive'], 'timeout=72')
  assert.equal(whole.body, 'data: 1data: 22\n\n')
  assert.equal(whole.complete, true)
  for (let i = 1; i < SSE.length; i++) {
    const split = parse(SSE, [i])
    assert.equal(split.body, whole.body, `split at ${i}`)
    assert.equal(split.complete, true, `split at ${i}`)
  }
  assert.equal(
    parse(
      SSE,
      Array.from({ length: SSE.length - 1 }, (_, i) => i + 1),
    ).body,
    whole.body,
  )
})

test('a Content-Length answer, a close-delimited one and Connection: close', () => {
  const json = parse(
    'HTTP/1.1 503 Service Unavailable\r\ncontent-length: 4\r\nretry-after: 1\r\n\r\n{"a"',
    [20, 60],
  )
  assert.deepEqual([json.head?.status, json.body, json.complete], [503, '{"a"', true])
  const empty = parse('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n')
  assert.deepEqual([empty.body, empty.complete], ['', true])
  const closed = parse('HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok')
  assert.equal(closed.complete, false, 'Connection: close: not reusable')
  const untilEnd = parse('HTTP/1.1 200 OK\r\n\r\nsome bytes', [], true)
  assert.deepEqual([untilEnd.body, untilEnd.complete], ['some bytes', false])
  // A last coding other than chunked: the body runs to the connection's end too (as llhttp).
  const gzip = parse('HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\nxyz', [], true)
  assert.deepEqual([gzip.body, gzip.complete], ['xyz', false])
})

test('malformed or cut-off answers are errors, never a completed response', () => {
  assert.throws(() => parse('HTTX/1.1 200 OK\r\n\r\n'), /bad status line/)
  assert.throws(() => parse('HTTP/1.1 200 OK\r\nno colon\r\n\r\n'), /bad header line/)
  assert.throws(() => parse('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n'), /bad chunk size/)
  assert.throws(() => parse('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nabXY'), /CRLF/)
  assert.throws(
    () => parse('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 2\r\n\r\n'),
    /both transfer-encoding and content-length/,
  )
  assert.throws(() => parse('HTTP/1.1 204 OK\r\ncontent-length: x\r\n\r\n'), /content-length/)
  assert.throws(() => parse('HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n'), /content-length/)
  assert.throws(() => parse('HTTP/1.1 100 Continue\r\n\r\n'), /unexpected 100/)
  assert.throws(() => parse('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nab', [], true), /mid-body/)
  assert.throws(() => parse('HTTP/1.1 200', [], true), /before a response/)
  // Bytes beyond the answer: complete, but the connection is not reused.
  assert.equal(parse('HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nab').complete, false)
  const done = new Http1ResponseParser({ onHead() {}, onBody() {}, onComplete() {} })
  done.feed(Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\na'))
  assert.throws(() => done.feed(Buffer.from('x')), /after the end/)
  assert.throws(() => parse(`HTTP/1.1 200 OK\r\nx: ${'a'.repeat(70_000)}`), /head too long/)
})

/** Decodes chunked coding (for checking what pass-through handed on). */
function dechunk(wire: string): string {
  let out = ''
  let pos = 0
  for (;;) {
    const eol = wire.indexOf('\r\n', pos)
    assert.ok(eol >= 0, `a size line at ${pos} in ${JSON.stringify(wire)}`)
    const size = Number.parseInt(wire.slice(pos, eol).split(';')[0]!, 16)
    if (size === 0) return out
    out += wire.slice(eol + 2, eol + 2 + size)
    assert.equal(wire.slice(eol + 2 + size, eol + 4 + size), '\r\n', 'a chunk ends with CRLF')
    pos = eol + 4 + size
  }
}

test('pass-through hands on the rest of a chunked body as it came, wherever it starts', () => {
  const body = 'data: 1data: 22\n\n'
  for (let switchAfter = 1; switchAfter <= body.length; switchAfter++) {
    for (const splits of [
      [],
      [60, 97, 100, 103, 110],
      Array.from({ length: SSE.length - 1 }, (_, i) => i + 1),
    ]) {
      let decoded = ''
      let chunked = ''
      let complete: boolean | undefined
      let raw = false
      const p = new Http1ResponseParser({
        onHead() {},
        onBody(b) {
          if (raw) {
            chunked += b.toString('latin1')
            return
          }
          // Switch once this many decoded bytes were seen (the relay switches at its first token).
          const text = b.toString('latin1')
          decoded += text
          if (decoded.length >= switchAfter) raw = p.passThrough()
        },
        onComplete: (keepAlive) => (complete = keepAlive),
      })
      const bytes = Buffer.from(SSE, 'latin1')
      let from = 0
      for (const at of [...splits, bytes.length]) {
        p.feed(bytes.subarray(from, at))
        from = at
      }
      const what = `switch after ${switchAfter}, splits ${splits.length}`
      assert.equal(raw, true, what)
      assert.equal(complete, true, what)
      assert.ok(!chunked.includes('0\r\n\r\n'), `the last chunk is not passed (${what})`)
      assert.equal(decoded + dechunk(`${chunked}0\r\n\r\n`), body, what)
    }
  }
})

test('pass-through changes nothing for a body that is not chunked, and still checks the chunks', () => {
  const p = new Http1ResponseParser({ onHead() {}, onBody() {}, onComplete() {} })
  p.feed(Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nabc'))
  assert.equal(p.passThrough(), false)
  const bad = new Http1ResponseParser({ onHead() {}, onBody() {}, onComplete() {} })
  bad.feed(Buffer.from('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n'))
  assert.equal(bad.passThrough(), true)
  assert.throws(() => bad.feed(Buffer.from('2\r\nabXY')), /CRLF/)
  const badSize = new Http1ResponseParser({ onHead() {}, onBody() {}, onComplete() {} })
  badSize.feed(Buffer.from('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n'))
  badSize.passThrough()
  assert.throws(() => badSize.feed(Buffer.from('1\r\na\r\n-3\r\n')), /bad chunk size/)
})

test('in pass-through, an answer cut inside a chunk tells how many bytes that chunk still owes', () => {
  const p = new Http1ResponseParser({ onHead() {}, onBody() {}, onComplete() {} })
  p.feed(Buffer.from('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n'))
  assert.equal(p.owedChunkBytes, 0, 'not passing through')
  p.passThrough()
  p.feed(Buffer.from('a\r\n0123'))
  assert.equal(p.owedChunkBytes, 6 + 2, 'six data bytes and CRLF')
  p.feed(Buffer.from('456789'))
  assert.equal(p.owedChunkBytes, 2, 'the CRLF')
  p.feed(Buffer.from('\r\n3\r'))
  assert.equal(p.owedChunkBytes, 0, 'a size line is handed on only whole')
  // Switched on where a chunk was handed on decoded (its CRLF or its rest still to come): that
  // chunk is the reader's already, nothing owed until raw bytes of a new one go out.
  for (const [wire, state] of [
    ['3\r\nabc', 'its CRLF to come'],
    ['5\r\nabc', 'its last bytes to come'],
  ]) {
    const p2: Http1ResponseParser = new Http1ResponseParser({
      onHead() {},
      onBody: () => p2.passThrough(),
      onComplete() {},
    })
    p2.feed(Buffer.from(`HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n${wire}`))
    assert.equal(p2.owedChunkBytes, 0, state)
  }
})
