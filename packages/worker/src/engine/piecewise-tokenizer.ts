import type { Token } from 'node-llama-cpp'

/** node-llama-cpp's `model.tokenize` (one synchronous native call). */
export type TokenizeFn = (text: string, specialTokens?: boolean, options?: 'trimLeadingSpace') => Token[]

/**
 * Longest piece tokenized in one native call. The slowest tokenizing measured is ~1 µs a byte
 * (Llama 3's vocabulary on a run of spaces; the tiny test vocabulary on CJK text); 4096 UTF-16
 * units are at most 12 KiB of UTF-8, so one piece holds the event loop for ~12 ms at worst and
 * 1–2 ms for ordinary text (bench/worker/tokenize-pieces.mjs).
 */
export const PIECE_CHARS = 4096

const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d)
const isHighSurrogate = (c: number): boolean => c >= 0xd800 && c <= 0xdbff

/**
 * Where the piece that starts at `start` ends. Preferred, within the last half of the piece:
 * before a single space between two words (`foo| bar`), where every BPE pre-tokenizer and
 * SentencePiece's whitespace split cut anyway, so the pieces tokenize as the whole text would;
 * then after a line break that a word follows; else at the limit, never inside a surrogate pair.
 */
export function pieceEnd(text: string, start: number, pieceChars = PIECE_CHARS): number {
  const limit = start + pieceChars
  if (limit >= text.length) return text.length
  const floor = start + Math.floor(pieceChars / 2)
  for (let i = limit; i > floor; i--) {
    if (text.charCodeAt(i) === 0x20 && !isSpace(text.charCodeAt(i - 1)) && !isSpace(text.charCodeAt(i + 1)))
      return i
  }
  for (let i = limit; i > floor; i--) {
    if (text.charCodeAt(i - 1) === 0x0a && !isSpace(text.charCodeAt(i))) return i
  }
  return isHighSurrogate(text.charCodeAt(limit - 1)) ? limit - 1 : limit
}

export interface PiecewiseOptions {
  /** Passed to the first piece; the others continue the text (`trimLeadingSpace`). */
  options?: 'trimLeadingSpace' | undefined
  /** Stop as soon as the tokens are more than this; resolves with what was tokenized so far. */
  maxTokens?: number
  /** Checked between pieces: a client that went away stops the work. */
  signal?: AbortSignal
  pieceChars?: number
}

/** Resolves on the event loop's next turn, after the I/O (a `/health` request) waiting for it. */
export const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/**
 * Tokenizes `text` (as plain text, no special tokens) in pieces of at most `pieceChars`, each in
 * a turn of the event loop of its own, so a long prompt never holds it for more than one piece.
 * For text under `pieceChars`, and wherever the cut falls between words, the tokens are those of
 * one whole call; a cut inside a long run without spaces (a run of whitespace, CJK text) may split
 * a token there that the whole text would have merged.
 */
export async function tokenizeInPieces(
  tokenize: TokenizeFn,
  text: string,
  o: PiecewiseOptions = {},
): Promise<Token[]> {
  // Pieces are kept apart and joined once: one array grown token by token is copied as it grows.
  const pieces: Token[][] = []
  let count = 0
  let start = 0
  while (start < text.length) {
    // Before the first piece too: many short texts in a row (embedding inputs, chat messages)
    // must not add up to one long turn either.
    await nextTurn()
    o.signal?.throwIfAborted()
    const end = pieceEnd(text, start, o.pieceChars)
    const piece = tokenize(text.slice(start, end), false, start === 0 ? o.options : 'trimLeadingSpace')
    pieces.push(piece)
    count += piece.length
    start = end
    if (o.maxTokens !== undefined && count > o.maxTokens) break
  }
  return pieces.length === 1 ? pieces[0]! : pieces.flat()
}
