import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { BatchItem, Token } from 'node-llama-cpp'
import { gatedGeneratingFirst, generatingFirst, observed } from './batch-priority.js'

const item = (tokens: number): BatchItem => ({
  tokens: Array.from({ length: tokens }, (_, i) => i as Token),
  logits: Array.from({ length: tokens }, (_, i) => (i === tokens - 1 ? true : undefined)),
  evaluationPriority: 5,
})

/** A queued item that names its sequence, as rbee's batch-loop patch makes them. */
const seq = (id: number, tokens = 1): BatchItem => Object.assign(item(tokens), { sequenceId: id })

const plan = (items: BatchItem[], size: number): Array<[number, number]> =>
  generatingFirst({ items, size }).map((p) => [items.indexOf(p.item), p.processAmount])

describe('generatingFirst', () => {
  test('generating sequences get their token before any prompt, wherever they are queued', () => {
    const items = [item(300), item(1), item(400), item(1)]
    assert.deepEqual(plan(items, 512), [
      [1, 1],
      [3, 1],
      [0, 300],
      [2, 210],
    ])
  })

  test('prompts are served in the order they came, the first one whole when it fits', () => {
    assert.deepEqual(plan([item(460), item(460), item(460)], 512), [
      [0, 460],
      [1, 52],
    ])
  })

  test('a batch smaller than the generating sequences takes as many as fit', () => {
    assert.deepEqual(plan([item(1), item(1), item(1), item(50)], 2), [
      [0, 1],
      [1, 1],
    ])
  })

  test('generating sequences go in the order of their sequence ids (one llama.cpp pass)', () => {
    const items = [seq(2, 1), seq(0, 1), seq(1, 300), seq(3, 1)]
    assert.deepEqual(plan(items, 512), [
      [1, 1],
      [0, 1],
      [3, 1],
      [2, 300],
    ])
  })

  test('when not every generating sequence fits, they keep the order they were queued in', () => {
    const items = [seq(3), seq(1), seq(2)]
    assert.deepEqual(plan(items, 2), [
      [0, 1],
      [1, 1],
    ])
  })

  test('never plans more tokens than the batch holds', () => {
    for (const size of [1, 7, 64, 512]) {
      const items = [item(1), item(90), item(1), item(700), item(3)]
      const total = generatingFirst({ items, size }).reduce((n, p) => n + p.processAmount, 0)
      assert.equal(total, Math.min(size, 795))
    }
  })
})

describe('gatedGeneratingFirst', () => {
  test('waits (no items) while fewer generating sequences are queued than are generating', () => {
    const strategy = gatedGeneratingFirst(() => 3)
    const a = item(1)
    const b = item(1)
    const c = item(1)
    assert.deepEqual(strategy({ items: [a, b], size: 512 }), [])
    assert.deepEqual(strategy({ items: [a, b], size: 512 }), [])
    const batch = strategy({ items: [a, b, c], size: 512 })
    assert.deepEqual(
      batch.map((p) => p.item),
      [a, b, c],
    )
  })

  test('a prompt alone never waits', () => {
    const prompt = item(40)
    assert.deepEqual(
      gatedGeneratingFirst(() => 0)({ items: [prompt], size: 512 }).map((p) => p.processAmount),
      [40],
    )
  })

  test('gives up waiting after maxSpins (a sequence that finished does not come back)', () => {
    const strategy = gatedGeneratingFirst(() => 2, 3)
    const a = item(1)
    for (let i = 0; i < 3; i++) assert.deepEqual(strategy({ items: [a], size: 512 }), [])
    assert.equal(strategy({ items: [a], size: 512 }).length, 1)
    // and the count starts again for the next batch
    assert.deepEqual(strategy({ items: [a], size: 512 }), [])
  })
})

describe('observed', () => {
  test('tells how many tokens each batch holds, and nothing for a batch that waits', () => {
    const seen: number[] = []
    let generating = 2
    const strategy = observed(
      gatedGeneratingFirst(() => generating),
      (n) => seen.push(n),
    )
    assert.deepEqual(strategy({ items: [item(1)], size: 512 }), [])
    generating = 0
    strategy({ items: [item(1), item(300), item(400)], size: 512 })
    strategy({ items: [item(1), item(1)], size: 512 })
    assert.deepEqual(seen, [512, 2])
  })
})
