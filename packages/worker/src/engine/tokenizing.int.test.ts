// Tokenizing with the real tiny model's vocabulary (loaded vocabulary-only): the byte bound of a
// token, tokenizing in pieces, and the memo LlamaChat's own tokenizing finds.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { tinyModelPath } from '@rbee/testing'
import {
  ChatMLChatWrapper,
  getLlama,
  type Llama,
  LlamaLogLevel,
  type LlamaModel,
  type Token,
  type Tokenizer,
} from 'node-llama-cpp'
import { PIECE_CHARS, tokenizeInPieces } from './piecewise-tokenizer.js'
import { maxTokenBytes } from './prompt-budget.js'
import { TokenMemo } from './token-memo.js'

let llama: Llama
let model: LlamaModel
let tokenize: Tokenizer
let memo: TokenMemo

// Sentences with punctuation, digits, line breaks and a few multi-byte characters.
const SENTENCES = [
  'The quick brown fox jumps over the lazy dog. ',
  'In 2024, 17 workers answered 3.5k requests a second!\n',
  'Naïve café owners sell crème brûlée; ',
  'fn(x) => x * 2 // doubles it\n\n',
]
const prose = (chars: number): string => {
  let s = ''
  for (let i = 0; s.length < chars; i++) s += SENTENCES[(i * 7) % SENTENCES.length]
  return s.slice(0, chars)
}

/**
 * Runs `work`, and measures how long each turn of the event loop took meanwhile: the 95th
 * percentile says what the work does (a few turns on a loaded machine are longer, the process
 * having waited for a core), the longest is reported.
 */
async function turns<T>(work: () => Promise<T>): Promise<{ result: T; p95Ms: number; longestMs: number }> {
  const gaps: number[] = []
  let last = performance.now()
  let running = true
  const tick = (): void => {
    const now = performance.now()
    gaps.push(now - last)
    last = now
    if (running) setImmediate(tick)
  }
  setImmediate(tick)
  try {
    const result = await work()
    gaps.sort((a, b) => a - b)
    return { result, p95Ms: gaps[Math.floor(gaps.length * 0.95)] ?? 0, longestMs: gaps.at(-1) ?? 0 }
  } finally {
    running = false
  }
}

before(async () => {
  llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error })
  model = await llama.loadModel({ modelPath: await tinyModelPath(), vocabOnly: true })
  tokenize = model.tokenizer
  memo = TokenMemo.install(model)
})

after(async () => {
  await model?.dispose()
  await llama?.dispose()
})

test("a token of the tiny model stands for at most 13 bytes: its longest token, '<|im_start|>', and a space", () => {
  assert.equal(maxTokenBytes(model), 13)
})

test('tokenizing 1 MB of prose in pieces gives the tokens of one call, in turns of the event loop a piece long', async (t) => {
  const text = prose(1_000_000)
  const started = performance.now()
  const whole = tokenize(text, false, 'trimLeadingSpace')
  const wholeMs = performance.now() - started
  const {
    result: pieces,
    p95Ms,
    longestMs,
  } = await turns(() => tokenizeInPieces(tokenize, text, { options: 'trimLeadingSpace' }))
  t.diagnostic(
    `one call: ${whole.length} tokens in ${wholeMs.toFixed(0)} ms; in pieces of ${PIECE_CHARS} chars: turns ${p95Ms.toFixed(1)} ms (95th percentile), ${longestMs.toFixed(1)} ms at the longest`,
  )
  assert.deepEqual(pieces, whole)
  assert.ok(
    p95Ms < wholeMs / 10,
    `turns ${p95Ms.toFixed(1)} ms (95th percentile), one call ${wholeMs.toFixed(0)} ms`,
  )
})

test('tokenizing in pieces stops soon after maxTokens, and between pieces when the signal aborts', async () => {
  const text = prose(1_000_000)
  const some = await tokenizeInPieces(tokenize, text, { maxTokens: 1000 })
  assert.ok(some.length > 1000 && some.length < 1000 + PIECE_CHARS, `${some.length} tokens`)
  const ac = new AbortController()
  const reason = new Error('client went away')
  const stopped = tokenizeInPieces(tokenize, text, { signal: ac.signal })
  ac.abort(reason)
  await assert.rejects(stopped, (err) => err === reason)
})

test("a chat held by the memo is what LlamaChat's own tokenizing then finds, token for token, and nothing stays held after release", async () => {
  const history = [
    { type: 'system' as const, text: 'You are terse.' },
    { type: 'user' as const, text: prose(300_000) },
    { type: 'model' as const, response: ['Noted.'] },
    { type: 'user' as const, text: 'And then?' },
    { type: 'model' as const, response: [] },
  ]
  const { contextText } = new ChatMLChatWrapper().generateContextState({ chatHistory: history })
  const expected = contextText.tokenize(tokenize)
  const held = await memo.hold(contextText, { maxTokens: 1_000_000 })
  assert.equal(held.count, expected.length)
  const started = performance.now()
  const found = contextText.tokenize(model.tokenizer)
  const foundMs = performance.now() - started
  assert.deepEqual(found, expected)
  const again = performance.now()
  contextText.tokenize(tokenize)
  const tokenizeMs = performance.now() - again
  assert.ok(
    foundMs < tokenizeMs / 4,
    `held: ${foundMs.toFixed(1)} ms, tokenized again: ${tokenizeMs.toFixed(1)} ms`,
  )
  held.release()
  held.release()
  assert.equal(memo.size, 0)
})

test('a chat past maxTokens stops early and holds nothing once released', async () => {
  const { contextText } = new ChatMLChatWrapper().generateContextState({
    chatHistory: [
      { type: 'user', text: prose(200_000) },
      { type: 'model', response: [] },
    ],
  })
  const held = await memo.hold(contextText, { maxTokens: 2047 })
  assert.ok(held.count > 2047 && held.count < 2047 + PIECE_CHARS, `${held.count} tokens`)
  held.release()
  assert.equal(memo.size, 0)
  const tokens: Token[] = model.tokenize(prose(1000))
  assert.ok(tokens.length > 0, 'the installed tokenizer still tokenizes what it does not hold')
})
