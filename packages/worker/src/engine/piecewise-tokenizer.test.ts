import assert from 'node:assert/strict'
import { test } from 'node:test'
import { pieceEnd } from './piecewise-tokenizer.js'

test('a piece ends before a space between two words, where every tokenizer cuts anyway', () => {
  const text = 'alpha beta gamma  delta'
  // The 16-character limit falls in a run of two spaces: no cut there, but at 'beta| gamma'.
  assert.equal(text.slice(0, pieceEnd(text, 0, 16)), 'alpha beta')
  assert.equal('one two three'.slice(0, pieceEnd('one two three', 0, 9)), 'one two')
})

test('without a space between words, a piece ends after a line break that a word follows', () => {
  const text = 'aaaa\n\nbbbbbbb\ncccccccccc'
  assert.equal(text.slice(0, pieceEnd(text, 0, 16)), 'aaaa\n\nbbbbbbb\n')
})

test('text without either is cut at the limit, never between the two halves of a surrogate pair', () => {
  const emoji = '\u{1F600}'.repeat(10)
  const end = pieceEnd(emoji, 0, 7)
  assert.equal(end, 6)
  assert.equal(pieceEnd('x'.repeat(20), 0, 8), 8)
})

test('the last piece ends at the end of the text', () => {
  assert.equal(pieceEnd('short text', 0, 4096), 10)
  assert.equal(pieceEnd('a b c d e f', 6, 100), 11)
})
