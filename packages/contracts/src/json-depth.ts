/**
 * The deepest nesting of arrays and objects rbee accepts in JSON from outside: request bodies,
 * frames and messages from peers. Real requests nest a handful of levels (a JSON schema in
 * `response_format` a few dozen at most). Deeper values are refused before anything walks them:
 * `JSON.stringify` and other recursive walks overflow the stack a few thousand levels down.
 */
export const MAX_JSON_DEPTH = 128

const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_ARRAY = 0x5b
const CLOSE_ARRAY = 0x5d
const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d

/**
 * True when JSON text nests arrays and objects deeper than `max`. One pass over the text, no
 * recursion, brackets inside strings skipped; for text that is not JSON the answer means
 * nothing (the parser refuses such text anyway).
 */
export function jsonNestsDeeperThan(text: string, max: number = MAX_JSON_DEPTH): boolean {
  let depth = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === QUOTE) {
      // Skip the string: to its closing quote, past escaped characters.
      for (i++; i < text.length; i++) {
        const s = text.charCodeAt(i)
        if (s === BACKSLASH) i++
        else if (s === QUOTE) break
      }
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > max) return true
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--
    }
  }
  return false
}
