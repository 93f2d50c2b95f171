import { numericRange } from '@rbee/contracts'
import { formatGrammar } from './format-grammar.js'
import { integerRangeGrammar, numberRangeGrammar } from './numeric-grammar.js'
import { patternGrammar } from './pattern-grammar.js'

// Which keywords of a schema (normal form) the grammar holds, and the GBNF rbee writes for a
// schema node where node-llama-cpp's own grammar would not hold its keywords.

type Node = { readonly [key: string]: unknown }

const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v)

/** The whole numbers a number or integer node's bounds allow, for the grammar. */
function wholeBounds(node: Node, t: 'number' | 'integer'): { lo: number; hi: number; exact: boolean } {
  const r = numericRange(node, t)
  let lo = r.lo === undefined ? Number.NEGATIVE_INFINITY : r.lo
  let hi = r.hi === undefined ? Number.POSITIVE_INFINITY : r.hi
  // An integer above an exclusive bound is the next whole number; a number is not (0.5 > 0): the
  // grammar then allows the bound itself and the check after generation refuses it.
  const exact = t === 'integer' || !((r.loOpen && Number.isInteger(lo)) || (r.hiOpen && Number.isInteger(hi)))
  lo = t === 'integer' && r.loOpen && Number.isFinite(lo) ? Math.floor(lo) + 1 : Math.ceil(lo)
  hi = t === 'integer' && r.hiOpen && Number.isFinite(hi) ? Math.ceil(hi) - 1 : Math.floor(hi)
  return { lo, hi, exact }
}

const hasBounds = (node: Node): boolean =>
  ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'].some((k) => typeof node[k] === 'number')

/**
 * The GBNF rbee writes for a schema node instead of node-llama-cpp's (integers and numbers with
 * bounds, strings with a pattern or a format of rbee's), or undefined to leave it to node-llama-cpp.
 */
export function nodeGrammar(node: Node): string | undefined {
  const t = node.type
  if ((t === 'integer' || t === 'number') && hasBounds(node)) {
    const { lo, hi } = wholeBounds(node, t)
    if (lo > hi) return undefined
    return t === 'integer' ? integerRangeGrammar(lo, hi) : numberRangeGrammar(lo, hi)
  }
  if (t === 'string' && typeof node.pattern === 'string') return patternGrammar(node.pattern)
  if (t === 'string' && typeof node.format === 'string') return formatGrammar(node.format)
  return undefined
}

/** Whether a node's own keywords are all held by the grammar (`written`: rbee's grammars are in use). */
function nodeHeld(node: Node, written: boolean): boolean {
  if (node.multipleOf !== undefined || node.uniqueItems === true) return false
  const t = node.type
  const lengths = node.minLength !== undefined || node.maxLength !== undefined
  if (t === 'integer' || t === 'number') {
    if (!hasBounds(node)) return true
    const { lo, hi, exact } = wholeBounds(node, t)
    return written && exact && lo <= hi && nodeGrammar(node) !== undefined
  }
  if (t === 'string') {
    if (typeof node.pattern === 'string')
      return written && !lengths && node.format === undefined && nodeGrammar(node) !== undefined
    if (typeof node.format === 'string')
      return !lengths && (formatGrammar(node.format) === undefined || written)
  }
  return true
}

/**
 * Whether the grammar alone holds every keyword of `schema` (normal form), so that the output can
 * stream as it is generated; otherwise it is checked after generation and held back until then.
 * @param written - whether rbee's grammars are in use (node-llama-cpp patched).
 */
export function grammarHoldsSchema(schema: Node, written: boolean): boolean {
  const seen = new Set<unknown>()
  const walk = (v: unknown): boolean => {
    if (Array.isArray(v)) return v.every(walk)
    if (!isNode(v) || seen.has(v)) return true
    seen.add(v)
    if (!nodeHeld(v, written)) return false
    for (const [k, x] of Object.entries(v)) {
      if (k === 'const' || k === 'enum') continue
      if (k === 'properties' || k === '$defs') {
        if (isNode(x) && !Object.values(x).every(walk)) return false
      } else if (typeof x === 'object' && !walk(x)) return false
    }
    return true
  }
  return walk(schema)
}
