// Pieces of GBNF (llama.cpp's grammar format) that the constraint grammars are written with.

/** A GBNF literal of `text`. */
export function gbnfLiteral(text: string): string {
  return `"${text
    .replace(/[\\"]/g, (c) => `\\${c}`)
    .replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r')
    .replace(/\t/g, '\\t')}"`
}

/** One code point as a GBNF escape (used inside character classes, where most ASCII is special). */
function escaped(cp: number): string {
  if ((cp >= 0x30 && cp <= 0x39) || (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a))
    return String.fromCodePoint(cp)
  if (cp <= 0xff) return `\\x${cp.toString(16).padStart(2, '0')}`
  if (cp <= 0xffff) return `\\u${cp.toString(16).padStart(4, '0')}`
  return `\\U${cp.toString(16).padStart(8, '0')}`
}

/** Inclusive code point ranges. */
export type Ranges = ReadonlyArray<readonly [number, number]>

/** A GBNF character class of `ranges` (`negated`: every code point but those). */
export function gbnfClass(ranges: Ranges, negated = false): string {
  const body = ranges.map(([a, b]) => (a === b ? escaped(a) : `${escaped(a)}-${escaped(b)}`)).join('')
  return `[${negated ? '^' : ''}${body}]`
}

/** The ranges of the characters of `chars` (each its own range). */
export function charsOf(chars: string): Ranges {
  return Array.from(chars, (c) => {
    const cp = c.codePointAt(0)!
    return [cp, cp] as const
  })
}

/** A character class of the characters of `chars`. */
export const gbnfChars = (chars: string): string => gbnfClass(charsOf(chars))

/** A JSON string's opening or closing quote. */
export const QUOTE = '"\\""'

/** Any character a JSON string holds unescaped: the free text around an unanchored pattern. */
export const FREE_CHAR = '[^"\\\\\\x00-\\x1f]'

/** An alternation, parenthesised; one option stays as it is. */
export function gbnfAlt(options: readonly string[]): string {
  return options.length === 1 ? options[0]! : `(${options.join(' | ')})`
}
