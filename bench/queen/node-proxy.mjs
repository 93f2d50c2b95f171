#!/usr/bin/env node
// The floor for any reverse proxy written in Node.js, for the queen's routing-overhead
// benchmark only: a node:http server that forwards each request as is to ONE fixed upstream over
// a keep-alive undici Pool and streams the answer back chunk by chunk. No routing, validation,
// scheduling, retries, metrics or auth: what the queen adds beyond this is the queen's own cost.
//
//   node bench/queen/node-proxy.mjs --upstream http://127.0.0.1:PORT
import { createServer } from 'node:http'
import { parseArgs } from 'node:util'
import { Pool } from 'undici'

const { values } = parseArgs({ options: { upstream: { type: 'string' } } })
const pool = new Pool(values.upstream, { connections: 256, pipelining: 1, keepAliveTimeout: 30_000 })

const server = createServer((req, res) => {
  const body = []
  req.on('data', (c) => body.push(c))
  req.on('end', () => {
    pool.dispatch(
      {
        path: req.url,
        method: req.method,
        headers: { 'content-type': req.headers['content-type'] ?? 'application/json' },
        body: Buffer.concat(body),
      },
      {
        onConnect() {},
        onHeaders(status, raw, resume) {
          const headers = {}
          for (let i = 0; i + 1 < raw.length; i += 2) {
            const k = String(raw[i]).toLowerCase()
            if (k !== 'transfer-encoding' && k !== 'connection' && k !== 'keep-alive')
              headers[k] = String(raw[i + 1])
          }
          res.writeHead(status, headers)
          res.on('drain', resume)
          return true
        },
        onData: (chunk) => res.write(chunk),
        onComplete: () => res.end(),
        onError: () => res.destroy(),
      },
    )
  })
})
server.keepAliveTimeout = 30_000
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ type: 'listening', port: server.address().port }))
})
