import { gbnfAlt, gbnfLiteral } from './gbnf.js'

// Numbers within bounds, written digit by digit (the idea of llama.cpp's json-schema-to-grammar,
// `_generate_min_max_int`): a range of whole numbers becomes, per count of digits, an alternation
// of a shared prefix, one digit within its range and free digits after it.

/** Most digits of a whole number the JSON grammar writes (as node-llama-cpp's, patched, does). */
export const MAX_INTEGER_DIGITS = 16
const LARGEST = 10 ** MAX_INTEGER_DIGITS - 1
const FRACTION = '("." [0-9]{1,16})?'

const digits = (n: number): string => (n === 0 ? '' : ` [0-9]{${n}}`)
const digitClass = (a: string, b: string): string => (a === b ? gbnfLiteral(a) : `[${a}-${b}]`)

/** Whole numbers from `a` to `b`, both with the same count of digits. */
function sameLength(a: string, b: string): string {
  const n = a.length
  if (n === 0) return ''
  if (a === b) return gbnfLiteral(a)
  const restA = a.slice(1)
  const restB = b.slice(1)
  if (/^0*$/.test(restA) && /^9*$/.test(restB)) return `${digitClass(a[0]!, b[0]!)}${digits(n - 1)}`
  if (a[0] === b[0]) return `${gbnfLiteral(a[0]!)} ${sameLength(restA, restB)}`
  const lo = Number(a[0])
  const hi = Number(b[0])
  const parts = [`${gbnfLiteral(a[0]!)} ${sameLength(restA, '9'.repeat(n - 1))}`.trim()]
  if (hi - lo > 1) parts.push(`${digitClass(String(lo + 1), String(hi - 1))}${digits(n - 1)}`)
  parts.push(`${gbnfLiteral(b[0]!)} ${sameLength('0'.repeat(n - 1), restB)}`.trim())
  return gbnfAlt(parts)
}

/**
 * GBNF of the whole numbers from `lo` to `hi` (non-negative, `hi` Infinity for no bound), written
 * without leading zeros; undefined when `lo` has more digits than the grammar writes.
 */
export function naturalRangeGrammar(lo: number, hi: number): string | undefined {
  if (lo > LARGEST) return undefined
  const top = Math.min(hi, LARGEST)
  const open = hi > LARGEST
  const from = String(lo).length
  const to = String(top).length
  const parts: string[] = []
  for (let d = from; d <= to; d++) {
    const a = d === from ? String(lo) : `1${'0'.repeat(d - 1)}`
    const b = d === to ? String(top) : '9'.repeat(d)
    if (open && d > from) {
      // Every longer number, up to the most digits the grammar writes.
      parts.push(`[1-9] [0-9]{${d - 1},${MAX_INTEGER_DIGITS - 1}}`)
      break
    }
    parts.push(sameLength(a, b))
  }
  return gbnfAlt(parts)
}

/**
 * GBNF of the values from `lo` to `hi`: those at or above 0 by `part(max(lo, 0), hi)`, those below
 * as "-" and `part` of their magnitudes (from `smallest` up); undefined when none can be written.
 */
function signed(
  lo: number,
  hi: number,
  smallest: number,
  part: (a: number, b: number) => string | undefined,
): string | undefined {
  const parts: string[] = []
  const positive = hi >= 0 ? part(Math.max(lo, 0), hi) : undefined
  if (positive !== undefined) parts.push(positive)
  const negative = lo < 0 ? part(Math.max(smallest, -hi), -lo) : undefined
  if (negative !== undefined) parts.push(`"-" ${negative}`)
  return parts.length === 0 ? undefined : gbnfAlt(parts)
}

/**
 * GBNF of the integers from `lo` to `hi` (whole numbers; ±Infinity for no bound); undefined when
 * none can be written.
 */
export function integerRangeGrammar(lo: number, hi: number): string | undefined {
  return signed(lo, hi, 1, naturalRangeGrammar)
}

/** Magnitudes from `a` to `b` with a fraction allowed below `b` (`b` Infinity: unbounded). */
function magnitude(a: number, b: number): string | undefined {
  if (b === Number.POSITIVE_INFINITY) {
    const g = naturalRangeGrammar(a, b)
    return g === undefined ? undefined : `${g} ${FRACTION}`
  }
  if (a >= b) return naturalRangeGrammar(b, b)
  const below = naturalRangeGrammar(a, b - 1)
  const at = naturalRangeGrammar(b, b)
  if (at === undefined) return undefined
  return below === undefined ? at : gbnfAlt([`${below} ${FRACTION}`, at])
}

/**
 * GBNF of numbers from `lo` to `hi` (whole numbers, ±Infinity for no bound), fractions included
 * (no exponent); undefined when none can be written.
 */
export function numberRangeGrammar(lo: number, hi: number): string | undefined {
  return signed(lo, hi, 0, magnitude)
}
