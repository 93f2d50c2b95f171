#!/usr/bin/env node
// Worker throughput vs llama.cpp's own llama-server, side by side in one run, on the generated
// bench model (same threads, same slots, same prompts), plus the worker's HTTP overhead vs
// node-llama-cpp called in-process. Not a test: run it by hand, read bench/RESULTS.md.
//
//   node bench/worker/bench.mjs [--threads 1,2] [--rounds 3] [--tokens 128] [--llama-build prebuilt|local]
//                               [--modes stream,whole] [--model bench|bench-large]
//
// Both sides answer the same way in each mode: `stream` reads tokens as they come (the worker's
// `/v1/infer` SSE, llama-server's `/completion` with `stream: true`); `whole` waits for the whole
// answer (the worker's `/v1/completions`, llama-server's `/completion`). Each side's own timings
// (sent with its last event or answer) give the decode rates; the prompt rate compared is the
// client's (prompt tokens over the wait for the first token, streams only), as the two servers
// define their own prompt timings differently.
//
// Needs `npm ci` and bench/build-llama-server.sh (builds llama-server from the llama.cpp source
// that ships inside node-llama-cpp; ~15 min on 2 cores, cached under bench/.cache).
import { execFileSync, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createServer } from 'node:net'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..', '..')
const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: '1,2' },
    rounds: { type: 'string', default: '3' },
    tokens: { type: 'string', default: '128' },
    'llama-build': { type: 'string', default: 'prebuilt' },
    'skip-server': { type: 'boolean', default: false },
    modes: { type: 'string', default: 'stream,whole' },
    model: { type: 'string', default: 'bench' },
  },
})
const threadsList = values.threads.split(',').map(Number)
const rounds = Number(values.rounds)
const maxTokens = Number(values.tokens)
const modes = values.modes.split(',')
const SLOTS = 4
const CTX = 1024

const testing = await import(join(root, 'packages/testing/dist/index.js'))
const modelPaths = { bench: testing.benchModelPath, 'bench-large': testing.benchLargeModelPath }
if (!modelPaths[values.model]) {
  console.error(`--model must be one of: ${Object.keys(modelPaths).join(', ')}`)
  process.exit(1)
}
const model = await modelPaths[values.model]()
const serverBin = join(root, 'bench/.cache/llama.cpp/build/bin/llama-server')
const haveServer = existsSync(serverBin) && !values['skip-server']
if (!haveServer && !values['skip-server']) {
  console.error(`llama-server not built: run bench/build-llama-server.sh first (or pass --skip-server)`)
  process.exit(1)
}

// ~150-token prompts, different per request so no prompt cache is shared between requests.
const prompts = Array.from(
  { length: 16 },
  (_, i) =>
    `Request ${i}: ${'The quick brown fox jumps over the lazy dog while the bees hum in the garden. '.repeat(8)}`,
)

function median(xs) {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
}

function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

async function waitHealthy(url, ms = 120_000) {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    try {
      const r = await fetch(url)
      if (r.ok) return
    } catch {}
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`not healthy: ${url}`)
}

async function startWorker(threads) {
  const child = spawn(
    process.execPath,
    [
      join(root, 'packages/worker/dist/main.js'),
      '--model',
      model,
      '--slots',
      String(SLOTS),
      '--ctx-size',
      String(CTX),
      '--threads',
      String(threads),
      '--llama-build',
      values['llama-build'],
      '--backend',
      'cpu',
    ],
    // One libuv pool thread, as the hive and the llm-worker-rbee command start a worker.
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, RBEE_LOG_LEVEL: 'warn', UV_THREADPOOL_SIZE: '1' },
    },
  )
  const port = await new Promise((resolve, reject) => {
    child.on('exit', (c) => reject(new Error(`worker exited ${c}`)))
    createInterface({ input: child.stdout }).on('line', (l) => {
      const m = JSON.parse(l)
      if (m.type === 'ready') resolve(m.port)
    })
  })
  return { name: `worker (t=${threads})`, url: `http://127.0.0.1:${port}`, child, kind: 'worker' }
}

async function startServer(threads) {
  const port = await freePort()
  const child = spawn(
    serverBin,
    [
      '-m',
      model,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '-t',
      String(threads),
      '-tb',
      String(threads),
      '-np',
      String(SLOTS),
      '-c',
      String(CTX * SLOTS),
      '-b',
      '512',
      '--no-webui',
      '-fa',
      'auto',
    ],
    { stdio: ['ignore', 'ignore', 'ignore'] },
  )
  await waitHealthy(`http://127.0.0.1:${port}/health`)
  return { name: `llama-server (t=${threads})`, url: `http://127.0.0.1:${port}`, child, kind: 'server' }
}

/** The `data:` payloads of an SSE body, parsed. */
function sseData(text) {
  return text
    .split('\n')
    .filter((l) => l.startsWith('data: ') && l !== 'data: [DONE]')
    .map((l) => JSON.parse(l.slice(6)))
}

/**
 * Reads a streamed answer; `firstMs` is when the first token's frame arrived (ms after `t0`),
 * seen from the client, the same way for both sides.
 */
async function readStream(res, t0, isToken) {
  let text = ''
  let firstMs
  const decoder = new TextDecoder()
  for await (const chunk of res.body) {
    text += decoder.decode(chunk, { stream: true })
    if (firstMs === undefined && isToken(text)) firstMs = performance.now() - t0
  }
  return { text, firstMs }
}

/**
 * One completion, streamed or whole; returns the server's own timings so both sides are measured
 * alike, and in `stream` mode the time to the first token seen by the client (`ttftMs`).
 */
async function complete(target, prompt, seed, mode) {
  const t0 = performance.now()
  const post = (path, body) =>
    fetch(`${target.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
  if (target.kind === 'server') {
    const r = await post('/completion', {
      prompt,
      n_predict: maxTokens,
      seed,
      temperature: 0.8,
      cache_prompt: false,
      ignore_eos: true,
      stream: mode === 'stream',
    })
    const s = mode === 'stream' ? await readStream(r, t0, (t) => t.includes('"content"')) : undefined
    const j = s ? sseData(s.text).at(-1) : await r.json()
    return {
      promptN: j.timings.prompt_n,
      promptMs: j.timings.prompt_ms,
      genN: j.timings.predicted_n,
      genMs: j.timings.predicted_ms,
      ttftMs: s?.firstMs,
    }
  }
  const body = { prompt, max_tokens: maxTokens, seed, temperature: 0.8 }
  if (mode === 'stream') {
    const s = await readStream(await post('/v1/infer', body), t0, (t) => t.includes('event: token'))
    const end = sseData(s.text).at(-1)
    return {
      promptN: end.timings.prompt_tokens,
      promptMs: end.timings.prompt_ms,
      genN: end.tokens_out,
      genMs: end.timings.generation_ms,
      ttftMs: s.firstMs,
    }
  }
  const j = await (await post('/v1/completions', { model: 'bench', ...body })).json()
  return {
    promptN: j.timings.prompt_tokens,
    promptMs: j.timings.prompt_ms,
    genN: j.usage.completion_tokens,
    genMs: j.timings.generation_ms,
  }
}

/** `concurrency` requests at once, `perClient` each; aggregate generated tokens per wall second. */
async function load(target, concurrency, perClient, mode) {
  const t0 = performance.now()
  let gen = 0
  const promptTokS = []
  const decodeTokS = []
  let promptN = 0
  let ttftMs = 0
  await Promise.all(
    Array.from({ length: concurrency }, async (_, c) => {
      for (let i = 0; i < perClient; i++) {
        const r = await complete(
          target,
          prompts[(c * perClient + i) % prompts.length],
          1000 + c * 100 + i,
          mode,
        )
        gen += r.genN
        promptTokS.push((r.promptN * 1000) / r.promptMs)
        decodeTokS.push((r.genN * 1000) / r.genMs)
        if (r.ttftMs !== undefined) {
          promptN += r.promptN
          ttftMs += r.ttftMs
        }
      }
    }),
  )
  const wall = (performance.now() - t0) / 1000
  return {
    genTokS: gen / wall,
    promptTokS: median(promptTokS),
    decodeTokS: median(decodeTokS),
    // Prompt tokens per second of the client's wait for the first token (streams only): the same
    // measure on both sides. The servers' own prompt figures differ by definition: llama-server
    // times only its slot's own prompt batches, the worker from the request taking its slot to
    // its first token (so behind other requests' prompts too).
    clientPromptTokS: ttftMs > 0 ? (promptN * 1000) / ttftMs : null,
  }
}

async function inProcess(threads) {
  const { getLlama, LlamaCompletion } = await import('node-llama-cpp')
  const llama = await getLlama({ gpu: false, build: 'never' })
  const m = await llama.loadModel({ modelPath: model, gpuLayers: 0 })
  const ctx = await m.createContext({ sequences: 1, contextSize: CTX, threads })
  const seq = ctx.getSequence()
  const out = []
  for (let r = 0; r < rounds; r++) {
    await seq.clearHistory()
    const completion = new LlamaCompletion({ contextSequence: seq })
    let first
    let n = 0
    const t0 = performance.now()
    await completion.generateCompletion(prompts[r], {
      maxTokens,
      temperature: 0.8,
      seed: r,
      onToken: (t) => {
        first ??= performance.now()
        n += t.length
      },
    })
    const t1 = performance.now()
    out.push({ decode: ((n - 1) * 1000) / (t1 - first), e2e: (n * 1000) / (t1 - t0) })
    completion.dispose({ disposeSequence: false })
  }
  await ctx.dispose()
  await m.dispose()
  await llama.dispose()
  return { decode: median(out.map((o) => o.decode)), e2e: median(out.map((o) => o.e2e)) }
}

const results = []
console.log(
  `model ${model}, slots ${SLOTS}, ctx/slot ${CTX}, ${maxTokens} tokens/request, ${rounds} rounds, cpu: ${execFileSync('nproc').toString().trim()} cores`,
)
for (const threads of threadsList) {
  // Only one target runs at a time: an idle llama-server keeps its OpenMP threads spinning for a
  // while after each request, which would steal the CPU from whatever is measured next.
  const starters = [() => startWorker(threads), ...(haveServer ? [() => startServer(threads)] : [])]
  const rows = new Map()
  for (let r = 0; r < rounds; r++) {
    // Alternate the order each round so drift on a noisy machine hits both sides alike.
    const order = r % 2 === 0 ? starters : [...starters].reverse()
    for (const start of order) {
      const t = await start()
      try {
        await complete(t, prompts[15], 1, 'whole') // warm-up
        for (const mode of modes)
          for (const conc of [1, 4]) {
            const x = await load(t, conc, conc === 1 ? 3 : 2, mode)
            const key = `${mode}|${conc}|${t.name}`
            if (!rows.has(key))
              rows.set(key, { mode, conc, name: t.name, gen: [], prompt: [], decode: [], clientPrompt: [] })
            const row = rows.get(key)
            row.gen.push(x.genTokS)
            row.prompt.push(x.promptTokS)
            row.decode.push(x.decodeTokS)
            if (x.clientPromptTokS !== null) row.clientPrompt.push(x.clientPromptTokS)
          }
      } finally {
        t.child.kill('SIGTERM')
        await new Promise((res) => t.child.once('exit', res))
      }
    }
  }
  // Each round measures both sides back to back: the spread of their per-round ratios says how
  // much of a difference is this machine's noise.
  for (const mode of modes)
    for (const conc of [1, 4]) {
      const w = rows.get(`${mode}|${conc}|worker (t=${threads})`)
      const sv = rows.get(`${mode}|${conc}|llama-server (t=${threads})`)
      if (!w || !sv) continue
      const perRound = w.gen.map((g, i) => g / sv.gen[i]).sort((a, b) => a - b)
      console.log(
        `threads ${threads}, ${mode}, concurrency ${conc}: per-round throughput ratios ${perRound.map((x) => x.toFixed(2)).join(' ')} (median ${median(perRound).toFixed(3)})`,
      )
    }
  for (const v of rows.values()) {
    const row = {
      threads,
      mode: v.mode,
      concurrency: v.conc,
      target: v.name,
      genTokS: median(v.gen),
      decodeTokS: median(v.decode),
      promptTokS: median(v.prompt),
      clientPromptTokS: v.clientPrompt.length > 0 ? median(v.clientPrompt) : null,
    }
    results.push(row)
    console.log(JSON.stringify(row))
  }
  const ip = await inProcess(threads)
  // The in-process baseline has no client reading a stream: compare it with a whole answer.
  const viaHttp = results.find(
    (r) =>
      r.threads === threads &&
      r.concurrency === 1 &&
      r.target.startsWith('worker') &&
      r.mode === (modes.includes('whole') ? 'whole' : modes[0]),
  )
  const row = {
    threads,
    mode: 'whole',
    concurrency: 1,
    target: `node-llama-cpp in-process (t=${threads})`,
    genTokS: ip.e2e,
    decodeTokS: ip.decode,
    promptTokS: null,
    clientPromptTokS: null,
  }
  results.push(row)
  console.log(
    JSON.stringify(row),
    `worker (${viaHttp.mode})/in-process: end-to-end ${(viaHttp.genTokS / ip.e2e).toFixed(3)}, decode ${(viaHttp.decodeTokS / ip.decode).toFixed(3)}`,
  )
}
console.log(
  '\n| threads | mode | concurrency | target | throughput tok/s (all requests, incl. prompt) | decode tok/s (per request) | prompt tok/s (client) | prompt tok/s (server-reported) |\n|---|---|---|---|---|---|---|---|',
)
for (const r of results) {
  const fmt = (x) => (x === null ? '—' : x.toFixed(0))
  console.log(
    `| ${r.threads} | ${r.mode} | ${r.concurrency} | ${r.target} | ${r.genTokS.toFixed(1)} | ${r.decodeTokS.toFixed(1)} | ${fmt(r.clientPromptTokS)} | ${fmt(r.promptTokS)} |`,
  )
}
for (const threads of threadsList) {
  for (const mode of modes)
    for (const conc of [1, 4]) {
      const pick = (prefix) =>
        results.find(
          (r) =>
            r.threads === threads && r.mode === mode && r.concurrency === conc && r.target.startsWith(prefix),
        )
      const w = pick('worker')
      const s = pick('llama-server')
      if (w && s) {
        const ratio = (a, b) => (a / b).toFixed(3)
        // Prompt speed compares like with like only as the client sees it (streams).
        const prompt =
          w.clientPromptTokS !== null && s.clientPromptTokS !== null
            ? `prompt (client) ${ratio(w.clientPromptTokS, s.clientPromptTokS)}`
            : `prompt (servers' own figures, not alike) ${ratio(w.promptTokS, s.promptTokS)}`
        console.log(
          `threads ${threads}, ${mode}, concurrency ${conc}: worker/llama-server throughput ${ratio(w.genTokS, s.genTokS)}, decode ${ratio(w.decodeTokS, s.decodeTokS)}, ${prompt}`,
        )
      }
    }
}
process.exit(0)
