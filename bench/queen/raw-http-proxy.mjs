#!/usr/bin/env node
// What a proxy with its own minimal HTTP/1.1 layer costs in Node.js, for the queen's
// routing-overhead benchmark only: it reads request heads and Content-Length bodies straight
// off the socket (no node:http), parses the JSON body as any router must to read `model`, sends
// the request to ONE fixed upstream over a pooled keep-alive connection, writes its own response
// head and relays the chunked body verbatim, following the chunk sizes only to see where the
// answer ends. No auth, validation, routing or retries; requests it does not expect (no
// Content-Length, chunked bodies, pipelining) are refused.
//
//   node bench/queen/raw-http-proxy.mjs --upstream 127.0.0.1:PORT
import { connect, createServer } from 'node:net'
import { parseArgs } from 'node:util'

const { values } = parseArgs({ options: { upstream: { type: 'string' } } })
const [host, port] = values.upstream.split(':')
const HEAD_END = Buffer.from('\r\n\r\n')
const CRLF = Buffer.from('\r\n')
const EMPTY = Buffer.alloc(0)
const idle = []

function upstreamSocket() {
  for (let s = idle.pop(); s; s = idle.pop()) if (!s.destroyed) return s
  const s = connect({ host, port: Number(port), noDelay: true })
  s.on('error', () => s.destroy())
  return s
}

/** Relays one answer from `up` to `client`; calls `done(reusable)` when it has ended. */
function relay(up, client, done) {
  let buf = EMPTY
  let headSeen = false
  let left = 0 // bytes of the current chunk (with its CRLF) still to pass
  const onData = (d) => {
    buf = buf.length ? Buffer.concat([buf, d]) : d
    if (!headSeen) {
      const end = buf.indexOf(HEAD_END)
      if (end < 0) return
      const head = buf.subarray(0, end).toString('latin1')
      if (!/\r\ntransfer-encoding: *chunked/i.test(head)) return finish(false)
      client.write(
        `HTTP/1.1 ${head.slice(9, 12)} OK\r\ncontent-type: text/event-stream; charset=utf-8\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n`,
      )
      headSeen = true
      buf = buf.subarray(end + 4)
    }
    let pos = 0
    for (;;) {
      if (left > 0) {
        const take = Math.min(left, buf.length - pos)
        left -= take
        pos += take
        if (left > 0) break
      }
      const eol = buf.indexOf(CRLF, pos)
      if (eol < 0) break
      const size = Number.parseInt(buf.subarray(pos, eol).toString('latin1'), 16)
      if (size === 0) {
        // The last chunk (no trailers from our upstreams): the answer is complete.
        if (buf.length < eol + 4) break
        client.write(buf.subarray(0, eol + 4))
        return finish(true)
      }
      left = size + 2
      pos = eol + 2
    }
    if (pos > 0) client.write(buf.subarray(0, pos))
    buf = buf.subarray(pos)
  }
  const onGone = () => finish(false)
  const finish = (reusable) => {
    up.off('data', onData).off('close', onGone)
    done(reusable)
  }
  up.on('data', onData).on('close', onGone)
}

const server = createServer((client) => {
  client.setNoDelay(true)
  let buf = EMPTY
  let busy = false
  const next = () => {
    if (busy) return
    const end = buf.indexOf(HEAD_END)
    if (end < 0) return
    const lines = buf.subarray(0, end).toString('latin1').split('\r\n')
    const [method, path] = lines[0].split(' ')
    let length = -1
    for (const l of lines) if (/^content-length:/i.test(l)) length = Number(l.slice(15))
    if (length < 0 || method !== 'POST')
      return client.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n')
    if (buf.length < end + 4 + length) return
    const body = buf.subarray(end + 4, end + 4 + length)
    buf = buf.subarray(end + 4 + length)
    if (buf.length > 0) return client.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n')
    const { model } = JSON.parse(body.toString('utf8'))
    if (typeof model !== 'string') return client.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n')
    busy = true
    const up = upstreamSocket()
    up.write(
      `POST ${path} HTTP/1.1\r\nhost: ${values.upstream}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`,
    )
    up.write(body)
    relay(up, client, (reusable) => {
      if (reusable) idle.push(up)
      else up.destroy()
      busy = false
      next()
    })
  }
  client.on('data', (d) => {
    buf = buf.length ? Buffer.concat([buf, d]) : d
    next()
  })
  client.on('error', () => client.destroy())
})
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ type: 'listening', port: server.address().port }))
})
