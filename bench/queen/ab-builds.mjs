#!/usr/bin/env node
// Two builds of queen-rbee side by side, each in front of its own real llm-worker-rbee on the
// built-in tiny model: c=1 latency of non-streamed completions (request to whole answer) and of
// streamed ones (request to first token), through each queen and straight to its worker, the four
// paths taking turns in alternating order. For A/B measurements of a queen change; not a test.
//
//   node bench/queen/ab-builds.mjs --a <queen main.js> [--b packages/queen/dist/main.js]
//                                  [--rounds 4] [--turn-ms 2500] [--tokens 16]
//
// A build to compare against, from inside the repository so its imports resolve (for example):
//   git stash && npx tsc -b && cp -r packages/queen/dist packages/queen/.old-dist && git stash pop && npx tsc -b
//   node bench/queen/ab-builds.mjs --a packages/queen/.old-dist/main.js
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const { values } = parseArgs({
  options: {
    a: { type: 'string' },
    b: { type: 'string', default: join(root, 'packages/queen/dist/main.js') },
    rounds: { type: 'string', default: '4' },
    'turn-ms': { type: 'string', default: '2500' },
    tokens: { type: 'string', default: '16' },
  },
})
if (!values.a) {
  console.error('--a <queen main.js> is required (see the comment at the top)')
  process.exit(2)
}
const { Pool } = await import(join(root, 'node_modules/undici/index.js'))
const { tinyModelPath } = await import(join(root, 'packages/testing/dist/index.js'))
const model = await tinyModelPath()
const work = mkdtempSync(join(tmpdir(), 'rbee-ab-'))
const children = []
const stop = () => {
  for (const c of children) c.kill('SIGKILL')
  rmSync(work, { recursive: true, force: true })
}
process.on('exit', stop)
process.on('SIGINT', () => process.exit(130))

/** Starts a node process; resolves with the `port` of the first JSON line on its stdout that has one. */
function start(args, env = {}) {
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, RBEE_LOG_LEVEL: 'warn', ...env },
  })
  children.push(child)
  return new Promise((res, rej) => {
    child.on('exit', (code) => rej(new Error(`${args[0]} exited with ${code}`)))
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        const m = JSON.parse(line)
        if (m.port) res(m.port)
      } catch {}
    })
  })
}

const hivesConf = join(work, 'hives.conf')
writeFileSync(hivesConf, '')
const paths = {}
for (const [name, main] of [
  ['a', resolve(values.a)],
  ['b', resolve(values.b)],
]) {
  const queenPort = await start([
    main,
    ...['--host', '127.0.0.1', '--port', '0', '--home', join(work, name), '--hives-conf', hivesConf],
    '--no-local-hive',
  ])
  const workerPort = await start(
    [
      join(root, 'packages/worker/dist/main.js'),
      ...['--model', model, '--model-ref', 'tiny', '--port', '0', '--slots', '4', '--ctx-size', '256'],
      ...['--queen-url', `http://127.0.0.1:${queenPort}`, '--heartbeat-interval-ms', '1000'],
    ],
    { UV_THREADPOOL_SIZE: '1' },
  )
  paths[`${name} queen`] = `http://127.0.0.1:${queenPort}`
  paths[`${name} direct`] = `http://127.0.0.1:${workerPort}`
}

/** Requests back to back on one connection for `ms`; latencies in ms (whole answer, or first token). */
async function turn(url, stream, ms) {
  const pool = new Pool(url, { connections: 1 })
  const out = []
  const end = Date.now() + ms
  const body = JSON.stringify({
    model: 'tiny',
    prompt: 'Once upon a time',
    max_tokens: Number(values.tokens),
    temperature: 0,
    stream,
  })
  while (Date.now() < end) {
    const t0 = performance.now()
    const res = await pool.request({
      method: 'POST',
      path: '/v1/completions',
      headers: { 'content-type': 'application/json' },
      body,
    })
    if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${await res.body.text()}`)
    let first
    for await (const _ of res.body) first ??= performance.now() - t0
    out.push(stream ? first : performance.now() - t0)
  }
  await pool.close()
  return out
}

// Until the worker has joined its queen, the queen answers 404/503: the first turns wait for it.
for (const url of Object.values(paths)) {
  for (let i = 0; ; i++) {
    try {
      await turn(url, false, 1)
      break
    } catch (err) {
      if (i > 100) throw err
      await new Promise((r) => setTimeout(r, 100))
    }
  }
}
const names = Object.keys(paths)
for (const stream of [false, true]) for (const k of names) await turn(paths[k], stream, 1500) // warm-up
const got = {}
const turnMs = Number(values['turn-ms'])
for (let r = 0; r < Number(values.rounds); r++)
  for (const stream of [false, true])
    for (const k of r % 2 ? [...names].reverse() : names) {
      const key = `${stream ? 'stream, first token' : 'whole answer'} | ${k}`
      got[key] ??= []
      got[key].push(...(await turn(paths[k], stream, turnMs)))
    }
const p50 = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1]
for (const [k, xs] of Object.entries(got))
  console.log(`${k.padEnd(32)} p50 ${p50(xs).toFixed(3)} ms  (n ${xs.length})`)
for (const what of ['whole answer', 'stream, first token'])
  for (const build of ['a', 'b'])
    console.log(
      `${what}, build ${build}: the queen adds ${(p50(got[`${what} | ${build} queen`]) - p50(got[`${what} | ${build} direct`])).toFixed(3)} ms (p50)`,
    )
process.exit(0)
