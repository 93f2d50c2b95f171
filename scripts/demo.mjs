#!/usr/bin/env node
// The zero-config demo: starts a worker on the built-in model, streams one answer, stops it.
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const prompt = process.argv.slice(2).join(' ') || 'Tell me about bees.'
const main = fileURLToPath(new URL('../packages/worker/dist/main.js', import.meta.url))
const worker = spawn(process.execPath, [main, '--model', 'tiny', '--port', '0'], {
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, RBEE_LOG_LEVEL: process.env.RBEE_LOG_LEVEL ?? 'warn' },
})
const ready = await new Promise((resolve, reject) => {
  worker.on('exit', (code) => reject(new Error(`worker exited with code ${code}`)))
  createInterface({ input: worker.stdout }).on('line', (line) => {
    const msg = JSON.parse(line)
    if (msg.type === 'loading') process.stderr.write(`\rloading model ${Math.round(msg.progress * 100)}%`)
    if (msg.type === 'ready') resolve(msg)
  })
})
process.stderr.write(`\rworker ${ready.worker_id} ready on port ${ready.port} (${ready.backend})\n`)
const res = await fetch(`http://127.0.0.1:${ready.port}/v1/infer`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ prompt, max_tokens: 64 }),
})
const decoder = new TextDecoder()
let buf = ''
for await (const chunk of res.body) {
  buf += decoder.decode(chunk, { stream: true })
  for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
    const frame = buf.slice(0, i)
    buf = buf.slice(i + 2)
    const data = frame
      .split('\n')
      .find((l) => l.startsWith('data: '))
      ?.slice(6)
    if (!data) continue
    const ev = JSON.parse(data)
    if (ev.type === 'token') process.stdout.write(ev.t)
    if (ev.type === 'end')
      process.stderr.write(`\n[${ev.tokens_out} tokens, ${ev.timings.tokens_per_s.toFixed(0)} tok/s]\n`)
  }
}
worker.kill('SIGTERM')
