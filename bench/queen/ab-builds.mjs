#!/usr/bin/env node
// Two builds of queen-rbee side by side (or one build twice, with two worker transports), each in
// front of its own real llm-worker-rbee on the built-in tiny model: latency of non-streamed
// completions (request to whole answer) and of streamed ones (request to first token), through
// each queen and straight to its worker, the four paths taking turns in alternating order, at each
// concurrency (that many keep-alive connections sending back to back); each queen's CPU per
// request over its own turns. For A/B measurements of a queen change; not a test.
//
//   node bench/queen/ab-builds.mjs [--a <queen main.js>] [--b packages/queen/dist/main.js]
//                                  [--a-transport raw|undici] [--b-transport raw|undici]
//                                  [--concurrency 1] [--slots 4] [--rounds 4] [--turn-ms 2500]
//                                  [--tokens 16]
//
// `--a-transport`/`--b-transport` start that queen with RBEE_QUEEN_TRANSPORT (raw: the fast lane
// and the queen's own HTTP/1.1 client to workers; undici: fastify and undici only); --a defaults
// to --b then. Workers wait for a free slot (--slot-wait-ms) rather than answer 503, as the
// queen's queue does.
//
// A build to compare against, from inside the repository so its imports resolve (for example):
//   git stash && npx tsc -b && cp -r packages/queen/dist packages/queen/.old-dist && git stash pop && npx tsc -b
//   node bench/queen/ab-builds.mjs --a packages/queen/.old-dist/main.js
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const { values } = parseArgs({
  options: {
    a: { type: 'string' },
    'a-transport': { type: 'string' },
    'b-transport': { type: 'string' },
    concurrency: { type: 'string', default: '1' },
    slots: { type: 'string', default: '4' },
    b: { type: 'string', default: join(root, 'packages/queen/dist/main.js') },
    rounds: { type: 'string', default: '4' },
    'turn-ms': { type: 'string', default: '2500' },
    tokens: { type: 'string', default: '16' },
  },
})
if (!values.a && values['a-transport'] === values['b-transport']) {
  console.error('--a <queen main.js> or two different --a-transport/--b-transport are required (see the top)')
  process.exit(2)
}
values.a ??= values.b
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
/** The pid of each queen, by path name. */
const queenPids = {}
for (const [name, main, transport] of [
  ['a', resolve(values.a), values['a-transport']],
  ['b', resolve(values.b), values['b-transport']],
]) {
  const queenPort = await start(
    [
      main,
      ...['--host', '127.0.0.1', '--port', '0', '--home', join(work, name), '--hives-conf', hivesConf],
      '--no-local-hive',
    ],
    transport ? { RBEE_QUEEN_TRANSPORT: transport } : {},
  )
  queenPids[`${name} queen`] = children.at(-1).pid
  const workerPort = await start(
    [
      join(root, 'packages/worker/dist/main.js'),
      ...['--model', model, '--slots', values.slots],
      ...'--model-ref tiny --port 0 --ctx-size 256 --slot-wait-ms 600000'.split(' '),
      ...['--queen-url', `http://127.0.0.1:${queenPort}`, '--heartbeat-interval-ms', '1000'],
    ],
    { UV_THREADPOOL_SIZE: '1' },
  )
  paths[`${name} queen`] = `http://127.0.0.1:${queenPort}`
  paths[`${name} direct`] = `http://127.0.0.1:${workerPort}`
}

/** CPU time (user + system) of a process so far, in µs (Linux ticks of 10 ms). */
function cpuUs(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(f[11]) + Number(f[12])) * 10_000
}

/**
 * `c` connections sending requests back to back for `ms`; latencies in ms (whole answer, or
 * first token).
 */
async function turn(url, stream, ms, c = 1) {
  const pool = new Pool(url, { connections: c })
  const out = []
  const end = Date.now() + ms
  const body = JSON.stringify({
    model: 'tiny',
    prompt: 'Once upon a time',
    max_tokens: Number(values.tokens),
    temperature: 0,
    stream,
  })
  const loop = async () => {
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
  }
  await Promise.all(Array.from({ length: c }, loop))
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
const turnMs = Number(values['turn-ms'])
const pct = (xs, q) => [...xs].sort((x, y) => x - y)[Math.min(xs.length - 1, Math.floor(xs.length * q))]
const label = (k) => {
  const t = values[`${k[0]}-transport`]
  return t && k.endsWith('queen') ? `${k} (${t})` : k
}
console.log(`a: ${values.a}${values['a-transport'] ? ` (${values['a-transport']})` : ''}`)
console.log(`b: ${values.b}${values['b-transport'] ? ` (${values['b-transport']})` : ''}`)
for (const c of values.concurrency.split(',').map(Number)) {
  const load = loadavg()[0].toFixed(2)
  for (const stream of [false, true]) for (const k of names) await turn(paths[k], stream, 1500, c) // warm-up
  const got = {}
  const cpu = {}
  for (let r = 0; r < Number(values.rounds); r++)
    for (const stream of [false, true])
      for (const k of r % 2 ? [...names].reverse() : names) {
        const key = `${stream ? 'stream, first token' : 'whole answer'} | ${k}`
        got[key] ??= []
        const pid = queenPids[k]
        const before = pid ? cpuUs(pid) : 0
        const xs = await turn(paths[k], stream, turnMs, c)
        if (pid) {
          cpu[key] ??= { us: 0, n: 0 }
          cpu[key].us += cpuUs(pid) - before
          cpu[key].n += xs.length
        }
        got[key].push(...xs)
      }
  console.log(`\nc=${c} (load average ${load} at the start, ${loadavg()[0].toFixed(2)} at the end)`)
  for (const [k, xs] of Object.entries(got)) {
    const [what, path] = k.split(' | ')
    const direct = got[`${what} | ${path[0]} direct`]
    const added = path.endsWith('queen')
      ? `  added p50 ${(pct(xs, 0.5) - pct(direct, 0.5)).toFixed(3)} p99 ${(pct(xs, 0.99) - pct(direct, 0.99)).toFixed(2)} ms  CPU ${Math.round(cpu[k].us / cpu[k].n)} µs/req`
      : ''
    console.log(
      `${what.padEnd(20)} ${label(path).padEnd(17)} p50 ${pct(xs, 0.5).toFixed(3)} p99 ${pct(xs, 0.99).toFixed(2)} ms  n ${String(xs.length).padStart(5)}${added}`,
    )
  }
}
process.exit(0)
