#!/usr/bin/env node
// The floor of the floor, for the queen's routing-overhead benchmark only: a TCP relay in Node.js
// that pipes bytes between each client connection and its own connection to ONE fixed upstream.
// It does not look at HTTP at all (no parsing, no routing, no pooling); it shows what Node's
// event loop and sockets cost on their own, next to what an HTTP-aware proxy costs.
//
//   node bench/queen/tcp-pipe.mjs --upstream 127.0.0.1:PORT
import { connect, createServer } from 'node:net'
import { parseArgs } from 'node:util'

const { values } = parseArgs({ options: { upstream: { type: 'string' } } })
const [host, port] = values.upstream.split(':')

const server = createServer((client) => {
  client.setNoDelay(true)
  const upstream = connect({ host, port: Number(port), noDelay: true })
  client.pipe(upstream)
  upstream.pipe(client)
  const close = () => {
    client.destroy()
    upstream.destroy()
  }
  client.on('error', close).on('close', close)
  upstream.on('error', close).on('close', close)
})
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ type: 'listening', port: server.address().port }))
})
