#!/usr/bin/env node
// How long tokenizing holds a worker's event loop, with real model vocabularies: the byte bound
// of a token (what a prompt of more bytes than context × bound cannot fit), one native call over
// the largest text that bound lets through, and the same text in pieces as the worker tokenizes
// it (turn lengths, and whether the tokens are those of one call). Not a test: run it by hand,
// read bench/RESULTS.md.
//
//   node bench/worker/tokenize-pieces.mjs [--ctx 2048,8192,32768] [--vocab llama-bpe,qwen2,...]
//
// The vocabularies are llama.cpp's vocabulary-only GGUF files (models/ggml-vocab-*.gguf) from
// the llama.cpp source that ships inside node-llama-cpp (its gitRelease.bundle), plus the tiny
// test model. Needs `npm ci` and `npx tsc -b`; extracts the files under bench/.cache.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..', '..')
const { values } = parseArgs({
  options: {
    ctx: { type: 'string', default: '2048,8192,32768' },
    vocab: { type: 'string', default: 'llama-spm,llama-bpe,qwen2,gpt-2,bert-bge' },
  },
})
const worker = (p) => join(root, 'packages', 'worker', 'dist', p)
const { getLlama, LlamaLogLevel } = await import('node-llama-cpp')
const { PIECE_CHARS, tokenizeInPieces } = await import(worker('engine/piecewise-tokenizer.js'))
const { maxTokenBytes } = await import(worker('engine/prompt-budget.js'))
const { tinyModelPath } = await import(join(root, 'packages', 'testing', 'dist', 'index.js'))

/** The vocabulary files, extracted from node-llama-cpp's llama.cpp bundle once. */
function vocabFiles(names) {
  const cache = join(here, '..', '.cache', 'vocab')
  const repo = join(here, '..', '.cache', 'llama.cpp')
  mkdirSync(cache, { recursive: true })
  if (!existsSync(join(repo, '.git'))) {
    const bundle = join(root, 'node_modules', 'node-llama-cpp', 'llama', 'gitRelease.bundle')
    execFileSync('git', ['clone', '--quiet', '--no-checkout', bundle, repo])
  }
  return names.map((name) => {
    const file = join(cache, `${name}.gguf`)
    if (!existsSync(file)) {
      const bytes = execFileSync('git', ['-C', repo, 'show', `HEAD:models/ggml-vocab-${name}.gguf`], {
        maxBuffer: 64 * 1024 * 1024,
      })
      writeFileSync(file, bytes)
    }
    return { name, file, vocabOnly: true }
  })
}

/** Runs `work` and collects how long each turn of the event loop took meanwhile. */
async function turns(work) {
  const gaps = []
  let last = performance.now()
  let running = true
  const tick = () => {
    const now = performance.now()
    gaps.push(now - last)
    last = now
    if (running) setImmediate(tick)
  }
  setImmediate(tick)
  const result = await work()
  running = false
  gaps.sort((a, b) => a - b)
  return { result, p95: gaps[Math.floor(gaps.length * 0.95)] ?? 0, longest: gaps.at(-1) ?? 0 }
}

const same = (a, b) => a.length === b.length && a.every((t, i) => t === b[i])
const apart = (a, b) => {
  let i = 0
  while (i < a.length && a[i] === b[i]) i++
  return `differ from token ${i} (${a.length} vs ${b.length} tokens)`
}
const ms = (x) => `${x.toFixed(x < 10 ? 1 : 0)} ms`
const readme = readFileSync(join(root, 'README.md'), 'utf8')
const prose = (bytes) => readme.repeat(Math.ceil(bytes / Buffer.byteLength(readme))).slice(0, bytes)
const cjk = (bytes) =>
  '日本語のテキストは空白なしで続きます。'.repeat(Math.ceil(bytes / 57)).slice(0, Math.floor(bytes / 3))

const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error })
const models = [
  { name: 'tiny', file: await tinyModelPath(), vocabOnly: true },
  ...vocabFiles(values.vocab.split(',')),
]
const ctxs = values.ctx.split(',').map(Number)
console.log(
  `pieces of ${PIECE_CHARS} UTF-16 units; one call = node-llama-cpp's model.tokenize over the whole text\n`,
)
for (const m of models) {
  const model = await llama.loadModel({ modelPath: m.file, vocabOnly: m.vocabOnly })
  const started = performance.now()
  const n = maxTokenBytes(model)
  const scan = performance.now() - started
  const longest = (() => {
    const size = model.fileInfo.metadata.tokenizer.ggml.tokens.length
    let best = ''
    for (let t = 0; t < size; t++) {
      const text = model.detokenize([t], false)
      // A byte token alone detokenizes to U+FFFD; it stands for one byte, not three.
      if (text.includes('\uFFFD') || model.isSpecialToken(t)) continue
      if (Buffer.byteLength(text) > Buffer.byteLength(best)) best = text
    }
    return best
  })()
  console.log(
    `${m.name} (${model.vocabularyType}): a token stands for ${n === undefined ? 'any number of' : `at most ${n}`} bytes (scan ${ms(scan)}); longest text token ${JSON.stringify(longest.slice(0, 24))}${longest.length > 24 ? '…' : ''} (${Buffer.byteLength(longest)} B)`,
  )
  for (const ctx of ctxs) {
    const bound = n === undefined ? 8 * 1024 * 1024 : Math.min(ctx * n, 8 * 1024 * 1024)
    for (const [kind, text] of [
      ['longest tokens', longest.repeat(Math.floor(bound / Math.max(1, Buffer.byteLength(longest))))],
      ['prose', prose(bound)],
      ['CJK', cjk(bound)],
    ]) {
      const t0 = performance.now()
      const whole = model.tokenize(text, false, 'trimLeadingSpace')
      const one = performance.now() - t0
      const pieces = await turns(() =>
        tokenizeInPieces(model.tokenize, text, { options: 'trimLeadingSpace' }),
      )
      console.log(
        `  ctx ${ctx}, ${kind}: ${Buffer.byteLength(text)} B, ${whole.length} tokens; one call ${ms(one)}; in pieces: turns ${ms(pieces.p95)} (p95), ${ms(pieces.longest)} (longest); ${same(whole, pieces.result) ? 'same tokens' : apart(whole, pieces.result)}`,
      )
    }
  }
  await model.dispose()
}
await llama.dispose()
