#!/usr/bin/env node
// A STAND-IN worker, for the queen's routing-overhead benchmark only: it runs no model. It
// answers OpenAI `POST /v1/completions` and `/v1/chat/completions` with `stream: true` by sending
// (for chat, the role chunk, then) one token at once and the rest at a fixed interval, then the
// finish chunk and [DONE], the way llm-worker-rbee frames them. Being this fast, what a proxy in front of it adds is what shows.
// It reports itself to the queen with WorkerHeartbeats like a real worker (no hive).
//
//   node bench/queen/stand-in-worker.mjs --queen-url http://127.0.0.1:7833 [--interval-ms 2] [--slots 256]
import { createServer } from 'node:http'
import { parseArgs } from 'node:util'
import { RBEE_PROTOCOL } from '../../packages/contracts/dist/index.js'

const { values } = parseArgs({
  options: {
    'queen-url': { type: 'string' },
    'interval-ms': { type: 'string', default: '2' },
    slots: { type: 'string', default: '256' },
    id: { type: 'string', default: 'stand-in' },
    model: { type: 'string', default: 'stand-in' },
  },
})
const intervalMs = Number(values['interval-ms'])
let busy = 0

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/health') {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ status: 'ok', service: 'llm-worker-rbee', version: 'stand-in', uptime_s: 1 }))
    return
  }
  if (req.method === 'GET' && req.url === '/v1/info') {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ ...info(), hive_url: null }))
    return
  }
  const chat = req.url === '/v1/chat/completions'
  if (req.method !== 'POST' || (!chat && req.url !== '/v1/completions')) {
    res.writeHead(404).end()
    return
  }
  const parts = []
  req.on('data', (c) => parts.push(c))
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(parts).toString('utf8'))
    const n = body.max_tokens ?? 16
    const id = `${chat ? 'chatcmpl' : 'cmpl'}-standin-${Math.random().toString(36).slice(2)}`
    const created = Math.floor(Date.now() / 1000)
    // The frames llm-worker-rbee sends: chat chunks with a delta, or text completion chunks.
    const frame = (delta, finish) =>
      chat
        ? `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: values.model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`
        : `data: ${JSON.stringify({ id, object: 'text_completion', created, model: values.model, choices: [{ index: 0, text: delta.content ?? '', finish_reason: finish, logprobs: null }] })}\n\n`
    busy++
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' })
    res.socket?.setNoDelay(true)
    if (chat) res.write(frame({ role: 'assistant', content: '' }, null))
    let i = 0
    let timer
    const tick = () => {
      if (res.destroyed) return done()
      res.write(frame({ content: `t${i}` }, null))
      if (++i < n) timer = setTimeout(tick, intervalMs)
      else {
        res.write(frame({}, 'length'))
        res.end('data: [DONE]\n\n')
        done()
      }
    }
    const done = () => {
      clearTimeout(timer)
      if (busy > 0) busy--
    }
    res.on('close', done)
    tick()
  })
})

function info() {
  return {
    id: values.id,
    model_id: values.model,
    device: 'cpu:0',
    port: server.address().port,
    status: 'ready',
    implementation: 'stand-in',
    version: '0.0.0',
    // The queen refuses a peer of another wire protocol; the stand-in speaks the current one.
    protocol: RBEE_PROTOCOL,
    host: '127.0.0.1',
    hive_id: null,
    slots_total: Number(values.slots),
    slots_busy: Math.min(busy, Number(values.slots)),
  }
}

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address()
  const beat = async () => {
    if (!values['queen-url']) return
    try {
      const r = await fetch(`${values['queen-url']}/v1/worker-heartbeat`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ worker: info(), timestamp: new Date().toISOString() }),
      })
      await r.body?.cancel()
    } catch {}
  }
  void beat()
  setInterval(beat, 1000).unref()
  process.stdout.write(`${JSON.stringify({ type: 'ready', port })}\n`)
})
process.on('SIGTERM', () => process.exit(0))
