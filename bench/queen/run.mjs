#!/usr/bin/env node
// The queen's routing overhead and decision time. Not a test: run it by hand, read RESULTS.md.
//
//   node bench/queen/run.mjs [--requests 96] [--round-s 3] [--tokens 16] [--interval-ms 2]
//                            [--concurrency 1,16,64] [--rounds 3] [--warmup 300] [--real-slots 16]
//                            [--skip-real] [--skip-decision] [--floors]
//
// 1. Time to first token (TTFT) and inter-token latency (ITL) of streamed text completions,
//    straight to a worker, through nginx (Debian's package, as a reverse proxy with buffering
//    off and upstream keep-alive), through a bare Node.js proxy (bench/queen/node-proxy.mjs:
//    forwarding only, the floor for any proxy in Node) and through queen-rbee, side by side in one run: against a
//    fast STAND-IN worker (bench/queen/stand-in-worker.mjs, no model: what a proxy adds is all
//    that varies) and against the real llm-worker-rbee on the built-in tiny model. `--floors`
//    adds two more paths in front of the stand-in: a TCP byte pipe in Node (bench/queen/tcp-pipe.mjs)
//    and a proxy with its own minimal HTTP/1.1 layer (bench/queen/raw-http-proxy.mjs), to show
//    what of the Node proxies' cost is Node itself and what is node:http and undici.
// 2. Registry decision time (pick + acquire + release) with 1,000 hives x 10 workers fed
//    synthetic telemetry, in-process.
//
// Needs `npm ci && npx tsc -b` and nginx (`apt-get install -y nginx`).
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Pool } from 'undici'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..', '..')
const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '96' },
    'round-s': { type: 'string', default: '3' },
    tokens: { type: 'string', default: '16' },
    'interval-ms': { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '1,16,64' },
    rounds: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '300' },
    'skip-real': { type: 'boolean', default: false },
    'real-slots': { type: 'string', default: '16' },
    'skip-decision': { type: 'boolean', default: false },
    floors: { type: 'boolean', default: false },
  },
})
const REQUESTS = Number(values.requests)
/** A path's turn in a round lasts at least this long (0: just the requests). */
const ROUND_MS = Number(values['round-s']) * 1000
const TOKENS = Number(values.tokens)
const CONCURRENCY = values.concurrency.split(',').map(Number)
const ROUNDS = Number(values.rounds)

const testing = await import(join(root, 'packages/testing/dist/index.js'))

function findNginx() {
  for (const p of ['/usr/sbin/nginx', '/usr/bin/nginx', '/usr/local/sbin/nginx']) if (existsSync(p)) return p
  try {
    return execFileSync('which', ['nginx']).toString().trim() || undefined
  } catch {
    return undefined
  }
}

function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

const children = []
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL')
})

function startChild(args, env = {}) {
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, RBEE_LOG_LEVEL: 'warn', ...env },
  })
  children.push(child)
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        const m = JSON.parse(line)
        if (m.type === 'ready' || m.type === 'listening') resolve({ child, port: m.port })
      } catch {}
    })
    child.on('exit', (code) => reject(new Error(`${args[0]} exited with ${code}`)))
  })
}

async function startNginx(nginx, upstreams) {
  const dir = mkdtempSync(join(tmpdir(), 'rbee-bench-nginx-'))
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, d))
  const ports = {}
  let servers = ''
  for (const [name, port] of Object.entries(upstreams)) {
    ports[name] = await freePort()
    servers += `
  upstream ${name} { server 127.0.0.1:${port}; keepalive 256; }
  server {
    listen 127.0.0.1:${ports[name]};
    location / {
      proxy_pass http://${name};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 600s;
    }
  }`
  }
  const conf = join(dir, 'nginx.conf')
  writeFileSync(
    conf,
    `worker_processes 1;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  tcp_nodelay on;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${servers}
}
`,
  )
  const child = spawn(nginx, ['-p', dir, '-c', conf, '-e', `${dir}/error.log`], { stdio: 'inherit' })
  children.push(child)
  for (const port of Object.values(ports)) await waitUp(`http://127.0.0.1:${port}/health`)
  return { child, ports }
}

async function waitUp(url, ms = 30_000) {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    try {
      const r = await fetch(url)
      await r.body?.cancel()
      if (r.status < 500) return
    } catch {}
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`not up: ${url}`)
}

/**
 * CPU time (user + system, ms; Linux ticks of 10 ms) and minor page faults so far of these
 * processes, from /proc.
 */
function usage(pids) {
  let ticks = 0
  let faults = 0
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      ticks += Number(f[11]) + Number(f[12])
      faults += Number(f[7])
    } catch {}
  }
  return { cpu: ticks * 10, faults }
}

function childPids(ppid) {
  const out = []
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8')
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === ppid) out.push(Number(d))
    } catch {}
  }
  return out
}

const TOKEN_MARK = Buffer.from('"text":"')
const EMPTY_MARK = Buffer.from('"text":""')

/** One streamed request: [ttft ms, [itl ms...]]. */
async function oneRequest(pool, model) {
  const t0 = performance.now()
  const res = await pool.request({
    method: 'POST',
    path: '/v1/completions',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model,
      prompt: 'Once upon a time',
      max_tokens: TOKENS,
      temperature: 0,
      stream: true,
    }),
  })
  if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}: ${await res.body.text()}`)
  let first
  let last
  const itl = []
  let tokens = 0
  for await (const chunk of res.body) {
    const now = performance.now()
    for (let i = chunk.indexOf(TOKEN_MARK); i >= 0; i = chunk.indexOf(TOKEN_MARK, i + 1)) {
      if (chunk.indexOf(EMPTY_MARK, i) === i) continue
      tokens++
      if (first === undefined) first = now
      else itl.push(now - last)
      last = now
    }
  }
  if (tokens === 0) throw new Error('no tokens')
  return [first - t0, itl]
}

/**
 * `concurrency` connections sending requests back to back: at least `total` requests, and new
 * ones until `ms` have passed.
 */
async function load(baseUrl, model, concurrency, total, ms = 0) {
  const pool = new Pool(baseUrl, { connections: concurrency, pipelining: 1, keepAliveTimeout: 30_000 })
  const ttft = []
  const itl = []
  let next = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total || performance.now() - started < ms) {
        next++
        const [t, gaps] = await oneRequest(pool, model)
        ttft.push(t)
        itl.push(...gaps)
      }
    }),
  )
  const wall = (performance.now() - started) / 1000
  await pool.close()
  return { ttft, itl, rps: next / wall }
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))]
}
const f = (x) => x.toFixed(2)

async function compare(title, model, targets, pids) {
  console.log(`\n## ${title}\n`)
  const rows = []
  for (const c of CONCURRENCY) {
    const total = Math.max(REQUESTS, c * 4)
    const acc = Object.fromEntries(
      Object.keys(targets).map((k) => [k, { ttft: [], itl: [], rps: [], cpu: 0, faults: 0, n: 0 }]),
    )
    // Warm every path (pools, and the JIT: the queen's code runs unoptimised for its first few
    // hundred requests), then interleave the targets round by round so drift in the machine's
    // load hits every path alike.
    for (const url of Object.values(targets))
      await load(url, model, c, Math.max(Number(values.warmup), c * 4))
    for (let r = 0; r < ROUNDS; r++) {
      for (const [name, url] of Object.entries(targets)) {
        const u0 = pids[name] ? usage(pids[name]) : undefined
        const m = await load(url, model, c, total, ROUND_MS)
        if (u0) {
          const u1 = usage(pids[name])
          acc[name].cpu += u1.cpu - u0.cpu
          acc[name].faults += u1.faults - u0.faults
        }
        acc[name].n += m.ttft.length
        acc[name].ttft.push(...m.ttft)
        acc[name].itl.push(...m.itl)
        acc[name].rps.push(m.rps)
      }
    }
    for (const [name, m] of Object.entries(acc)) {
      rows.push({
        c,
        name,
        ttft50: pct(m.ttft, 50),
        ttft99: pct(m.ttft, 99),
        itl50: pct(m.itl, 50),
        itl99: pct(m.itl, 99),
        rps: m.rps.reduce((a, b) => a + b, 0) / m.rps.length,
        n: m.ttft.length,
        cpuUs: pids[name] ? (m.cpu * 1000) / m.n : undefined,
        faults: pids[name] ? m.faults / m.n : undefined,
      })
    }
  }
  console.log(
    '| concurrency | path | requests | TTFT p50 ms | TTFT p99 ms | ITL p50 ms | ITL p99 ms | req/s | added TTFT p50 ms | proxy CPU µs/request | proxy minor faults/request |',
  )
  console.log('|---|---|---|---|---|---|---|---|---|---|---|')
  for (const r of rows) {
    const direct = rows.find((x) => x.c === r.c && x.name === 'direct')
    const added = r.name === 'direct' ? '—' : f(r.ttft50 - direct.ttft50)
    console.log(
      `| ${r.c} | ${r.name} | ${r.n} | ${f(r.ttft50)} | ${f(r.ttft99)} | ${f(r.itl50)} | ${f(r.itl99)} | ${r.rps.toFixed(0)} | ${added} | ${r.cpuUs === undefined ? '—' : r.cpuUs.toFixed(0)} | ${r.faults === undefined ? '—' : r.faults.toFixed(1)} |`,
    )
  }
  for (const c of CONCURRENCY) {
    const d = rows.find((x) => x.c === c && x.name === 'direct')
    const q = rows.find((x) => x.c === c && x.name === 'queen')
    const n = rows.find((x) => x.c === c && x.name === 'nginx')
    const p = rows.find((x) => x.c === c && x.name === 'node-proxy')
    if (!q || !n) continue
    const qa = q.ttft50 - d.ttft50
    const na = n.ttft50 - d.ttft50
    const pa = p ? p.ttft50 - d.ttft50 : Number.NaN
    console.log(
      `- c=${c}: queen adds ${f(qa)} ms TTFT p50, nginx ${f(na)} ms (ratio ${na > 0 ? (qa / na).toFixed(2) : 'n/a'}), bare Node proxy ${f(pa)} ms; ITL p50 queen ${f(q.itl50 - d.itl50)} ms vs nginx ${f(n.itl50 - d.itl50)} ms`,
    )
  }
}

async function decisionBench() {
  const { Registry } = await import(join(root, 'packages/queen/dist/index.js'))
  const { RBEE_PROTOCOL } = await import(join(root, 'packages/contracts/dist/index.js'))
  console.log('\n## Registry decision time (1,000 hives x 10 workers, synthetic telemetry)\n')
  const registry = new Registry()
  const models = ['m0', 'm1', 'm2', 'm3']
  const ts = new Date().toISOString()
  const telemetry = []
  for (let h = 0; h < 1000; h++) {
    const hive = `hive-${h}`
    registry.upsertHive(hive, `http://10.0.${h >> 8}.${h & 255}:7835`, 'registration')
    const infos = Array.from({ length: 10 }, (_, i) => ({
      id: `w-${h}-${i}`,
      model_id: models[(h + i) % 4],
      device: 'cuda:0',
      port: 40000 + i,
      status: 'ready',
      implementation: 'llm-worker-rbee',
      version: '0.1.0',
      protocol: RBEE_PROTOCOL,
      host: `10.0.${h >> 8}.${h & 255}`,
      hive_id: hive,
      slots_total: 4,
      slots_busy: 0,
    }))
    telemetry.push({
      type: 'telemetry',
      hive_id: hive,
      hive_info: {
        id: hive,
        hostname: hive,
        port: 7835,
        operational_status: 'running',
        health_status: 'healthy',
        version: '0.1.0',
        protocol: RBEE_PROTOCOL,
        devices: [
          {
            id: 'gpu:0',
            name: 'gpu',
            type: 'gpu',
            memory_total_mb: 24000,
            memory_free_mb: 8000 + h,
            backend: 'cuda',
          },
        ],
      },
      timestamp: ts,
      workers: infos.map((w) => ({
        pid: 1000 + h,
        group: 'llm',
        instance: String(w.port),
        cpu_pct: 50,
        rss_mb: 500,
        io_r_mb_s: 0,
        io_w_mb_s: 0,
        uptime_s: 100,
        gpu_util_pct: 40,
        vram_mb: 1500,
        total_vram_mb: 24000,
        model: w.model_id,
        worker_id: w.id,
        status: 'ready',
      })),
      worker_infos: infos,
    })
  }
  const applyTimes = []
  for (const ev of telemetry) {
    const t = process.hrtime.bigint()
    registry.hiveEvent(ev)
    applyTimes.push(Number(process.hrtime.bigint() - t) / 1000)
  }
  // Decisions interleaved with a full second of fleet telemetry (1,000 events = 10,000 worker
  // updates), as a live queen would see them; each decision takes the slot and later frees it.
  const pick = []
  const held = []
  for (let round = 0; round < 20; round++) {
    for (let h = 0; h < 1000; h++) {
      const t0 = process.hrtime.bigint()
      registry.hiveEvent(telemetry[h])
      applyTimes.push(Number(process.hrtime.bigint() - t0) / 1000)
      const model = models[h % 4]
      const t = process.hrtime.bigint()
      const w = registry.pick(model)
      if (w) registry.acquire(w)
      pick.push(Number(process.hrtime.bigint() - t) / 1000)
      if (w) held.push(w)
      if (held.length > 2000) {
        const x = held.shift()
        const t1 = process.hrtime.bigint()
        registry.release(x)
        pick.push(Number(process.hrtime.bigint() - t1) / 1000)
      }
    }
  }
  const q = (xs, p) => pct(xs, p).toFixed(2)
  console.log(`- workers: ${registry.workerCount}, hives online: ${registry.onlineHiveCount}`)
  console.log(
    `- decision (pick + acquire, or release): p50 ${q(pick, 50)} µs, p99 ${q(pick, 99)} µs, max ${Math.max(...pick).toFixed(1)} µs (${pick.length} samples)`,
  )
  console.log(
    `- applying one hive's telemetry (10 workers): p50 ${q(applyTimes, 50)} µs, p99 ${q(applyTimes, 99)} µs`,
  )
  const t = process.hrtime.bigint()
  let n = 0
  for (let i = 0; i < 1000; i++) n += registry.hivesWithFreeMemory(8500).length + registry.idleWorkers().size
  console.log(
    `- queries (hives with >= 8,500 MB free + idle workers): ${(Number(process.hrtime.bigint() - t) / 1000 / 1000).toFixed(1)} µs each (${n > 0 ? 'non-empty' : 'empty'})`,
  )
}

// ---- main ----
console.log(`# queen-rbee benchmark — ${new Date().toISOString()}`)
console.log(
  `node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, load average at start ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
)
console.log(
  `per path per round: at least ${REQUESTS} requests, 4 per connection and ${ROUND_MS / 1000} s; ${ROUNDS} rounds, ${TOKENS} tokens each`,
)

if (!values['skip-decision']) await decisionBench()

const nginx = findNginx()
if (!nginx) {
  console.log(
    "\nnginx is missing: install Debian's package to compare against it:\n\n  sudo apt-get install -y nginx\n",
  )
}
const queen = await testing.startQueen({
  args: ['--no-local-hive', '--queue-size', '1000'],
  ...(process.env.QUEEN_NODE_OPTIONS ? { env: { NODE_OPTIONS: process.env.QUEEN_NODE_OPTIONS } } : {}),
})
children.push(queen.process.child)
const standIn = await startChild(
  [join(here, 'stand-in-worker.mjs'), '--queen-url', queen.url, '--interval-ms', values['interval-ms']],
  {},
)
let real
if (!values['skip-real']) {
  const model = await testing.tinyModelPath()
  real = await startChild(
    [
      join(root, 'packages/worker/dist/main.js'),
      '--model',
      model,
      '--model-ref',
      'tiny',
      '--port',
      '0',
      '--slots',
      values['real-slots'],
      '--ctx-size',
      '256',
      // Requests beyond the slots wait inside the worker (direct and nginx) as they would in the
      // queen's queue, instead of being refused after the default 2 s.
      '--slot-wait-ms',
      '600000',
      '--queen-url',
      queen.url,
      '--heartbeat-interval-ms',
      '1000',
    ],
    // One libuv pool thread, as the hive starts a worker.
    { UV_THREADPOOL_SIZE: '1' },
  )
}
const ng = nginx
  ? await startNginx(nginx, { standin: standIn.port, ...(real ? { real: real.port } : {}) })
  : undefined
// Both workers must be routable at the queen before measuring.
await (async () => {
  const deadline = Date.now() + 30_000
  for (;;) {
    const r = await fetch(`${queen.url}/v1/models`)
    const m = await r.json()
    const loaded = new Set(m.data.filter((x) => x.loaded).map((x) => x.id))
    if (loaded.has('stand-in') && (!real || loaded.has('tiny'))) return
    if (Date.now() > deadline) throw new Error(`workers not routable at the queen: ${JSON.stringify(m)}`)
    await new Promise((r) => setTimeout(r, 100))
  }
})()

// The floor for a Node.js proxy: forwarding only (one per worker).
const nodeProxy = {
  standin: await startChild([join(here, 'node-proxy.mjs'), '--upstream', `http://127.0.0.1:${standIn.port}`]),
  ...(real
    ? {
        real: await startChild([join(here, 'node-proxy.mjs'), '--upstream', `http://127.0.0.1:${real.port}`]),
      }
    : {}),
}

// Lower floors, in front of the stand-in only (--floors).
const floors = values.floors
  ? {
      'tcp-pipe': await startChild([join(here, 'tcp-pipe.mjs'), '--upstream', `127.0.0.1:${standIn.port}`]),
      'raw-http': await startChild([
        join(here, 'raw-http-proxy.mjs'),
        '--upstream',
        `127.0.0.1:${standIn.port}`,
      ]),
    }
  : {}

const pids = {
  ...Object.fromEntries(Object.entries(floors).map(([k, p]) => [k, [p.child.pid]])),
  queen: [queen.pid],
  ...(ng ? { nginx: [ng.child.pid, ...childPids(ng.child.pid)] } : {}),
  'node-proxy': Object.values(nodeProxy).map((p) => p.child.pid),
}
const targets = (workerPort, name) => ({
  direct: `http://127.0.0.1:${workerPort}`,
  ...(ng ? { nginx: `http://127.0.0.1:${ng.ports[name]}` } : {}),
  'node-proxy': `http://127.0.0.1:${nodeProxy[name].port}`,
  ...(name === 'standin'
    ? Object.fromEntries(Object.entries(floors).map(([k, p]) => [k, `http://127.0.0.1:${p.port}`]))
    : {}),
  queen: queen.url,
})
await compare(
  `Stand-in worker (${TOKENS} tokens, one every ${values['interval-ms']} ms)`,
  'stand-in',
  targets(standIn.port, 'standin'),
  pids,
)
if (real) {
  await compare(
    `Real llm-worker-rbee, tiny model (${TOKENS} tokens, ${values['real-slots']} slots)`,
    'tiny',
    targets(real.port, 'real'),
    pids,
  )
}

ng?.child.kill('SIGTERM')
standIn.child.kill('SIGTERM')
real?.child.kill('SIGTERM')
await queen.close()
process.exit(0)
