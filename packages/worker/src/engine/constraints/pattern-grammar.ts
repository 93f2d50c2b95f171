import { FREE_CHAR, gbnfAlt, gbnfClass, gbnfLiteral, QUOTE, type Ranges } from './gbnf.js'

// A JSON Schema `pattern` (an ECMA-262 regular expression, matched anywhere in the string unless
// anchored) as GBNF for the JSON string it allows, in the spirit of llama.cpp's regex-to-grammar:
// literals, `.`, classes and the escapes \d \w \s \D \W \S, groups (capturing, `?:`, named),
// alternation, `? * + {m} {m,} {m,n}` (lazy or not: the same strings), and `^`/`$` at the ends.
// Anything else (look-around, back-references, \b, \p{…}, anchors inside) is not written as a
// grammar: the string is then checked against the pattern after generation.
//
// The grammar writes a subset of what the pattern matches (`\s` as ASCII spaces, control
// characters other than \n \r \t \b \f left out), and each character as JSON encodes it, so the
// string a JSON parser reads back always matches.

type Node =
  | { k: 'seq'; items: Node[] }
  | { k: 'alt'; options: Node[] }
  | { k: 'set'; ranges: Ranges; negated: boolean }
  | { k: 'rep'; node: Node; min: number; max: number }

/** Most repetitions written as a grammar (llama.cpp expands `{m,n}` into rules). */
export const MAX_PATTERN_REPEAT = 256

const DIGIT: Ranges = [[0x30, 0x39]]
const WORD: Ranges = [
  [0x30, 0x39],
  [0x41, 0x5a],
  [0x5f, 0x5f],
  [0x61, 0x7a],
]
const ASCII_SPACE: Ranges = [
  [0x09, 0x0d],
  [0x20, 0x20],
]
// Every character \s matches in JavaScript: \S is written as none of them.
const ALL_SPACE: Ranges = [
  [0x09, 0x0d],
  [0x20, 0x20],
  [0xa0, 0xa0],
  [0x1680, 0x1680],
  [0x2000, 0x200a],
  [0x2028, 0x2029],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
  [0xfeff, 0xfeff],
]
const LINE_ENDS: Ranges = [
  [0x0a, 0x0a],
  [0x0d, 0x0d],
  [0x2028, 0x2029],
]
const SINGLE_ESCAPES: Record<string, number> = { n: 0x0a, r: 0x0d, t: 0x09, f: 0x0c, v: 0x0b, '0': 0 }

class Unsupported extends Error {}

/** Parses the code points of a pattern (anchors already taken off). */
class Parser {
  #i = 0
  readonly #cps: string[]
  constructor(pattern: string) {
    this.#cps = Array.from(pattern)
  }

  parse(): Node {
    const n = this.#alt()
    if (this.#i < this.#cps.length) throw new Unsupported()
    return n
  }

  #peek(): string | undefined {
    return this.#cps[this.#i]
  }

  #alt(): Node {
    const options = [this.#seq()]
    while (this.#peek() === '|') {
      this.#i++
      options.push(this.#seq())
    }
    return options.length === 1 ? options[0]! : { k: 'alt', options }
  }

  #seq(): Node {
    const items: Node[] = []
    for (let c = this.#peek(); c !== undefined && c !== '|' && c !== ')'; c = this.#peek())
      items.push(this.#quantified(this.#atom()))
    return { k: 'seq', items }
  }

  #number(): number {
    const start = this.#i
    while (/[0-9]/.test(this.#peek() ?? '')) this.#i++
    if (start === this.#i) throw new Unsupported()
    return Number(this.#cps.slice(start, this.#i).join(''))
  }

  #quantified(node: Node): Node {
    const c = this.#peek()
    let min: number
    let max: number
    if (c === '*' || c === '+' || c === '?') {
      this.#i++
      ;[min, max] = c === '*' ? [0, Infinity] : c === '+' ? [1, Infinity] : [0, 1]
    } else if (c === '{') {
      this.#i++
      min = this.#number()
      max = min
      if (this.#peek() === ',') {
        this.#i++
        max = this.#peek() === '}' ? Infinity : this.#number()
      }
      if (this.#peek() !== '}') throw new Unsupported()
      this.#i++
    } else return node
    if (this.#peek() === '?') this.#i++
    if (min > MAX_PATTERN_REPEAT || (max !== Infinity && max > MAX_PATTERN_REPEAT)) throw new Unsupported()
    if (/^[*+?{]$/.test(this.#peek() ?? '')) throw new Unsupported()
    return { k: 'rep', node, min, max }
  }

  #atom(): Node {
    const c = this.#cps[this.#i++]!
    if (c === '(') {
      if (this.#peek() === '?') {
        const next = this.#cps[this.#i + 1]
        const after = this.#cps[this.#i + 2]
        if (next === ':') this.#i += 2
        else if (next === '<' && after !== '=' && after !== '!') {
          while (this.#peek() !== undefined && this.#peek() !== '>') this.#i++
          this.#i++
        } else throw new Unsupported()
      }
      const inner = this.#alt()
      if (this.#cps[this.#i++] !== ')') throw new Unsupported()
      return inner
    }
    if (c === '[') return this.#class()
    if (c === '.') return { k: 'set', ranges: LINE_ENDS, negated: true }
    if (c === '\\') return this.#escape(false)
    if ('^$*+?{})|]'.includes(c)) throw new Unsupported()
    const cp = c.codePointAt(0)!
    return { k: 'set', ranges: [[cp, cp]], negated: false }
  }

  /** An escape after its backslash: a set of one character or a class escape. */
  #escape(inClass: boolean): Node & { k: 'set' } {
    const c = this.#cps[this.#i++]
    if (c === undefined) throw new Unsupported()
    const set = (ranges: Ranges, negated = false) => ({ k: 'set' as const, ranges, negated })
    if (c === 'd') return set(DIGIT)
    if (c === 'w') return set(WORD)
    if (c === 's') return set(ASCII_SPACE)
    if (c === 'D' || c === 'W' || c === 'S') {
      if (inClass) throw new Unsupported()
      return set(c === 'D' ? DIGIT : c === 'W' ? WORD : ALL_SPACE, true)
    }
    const one = (cp: number) => set([[cp, cp]])
    if (c in SINGLE_ESCAPES) {
      if (c === '0' && /[0-9]/.test(this.#peek() ?? '')) throw new Unsupported()
      return one(SINGLE_ESCAPES[c]!)
    }
    if (c === 'x' || c === 'u') {
      const hex = (n: number): number => {
        const h = this.#cps.slice(this.#i, this.#i + n).join('')
        if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(h)) throw new Unsupported()
        this.#i += n
        return Number.parseInt(h, 16)
      }
      if (c === 'x') return one(hex(2))
      if (this.#peek() === '{') {
        const end = this.#cps.indexOf('}', this.#i)
        if (end < 0) throw new Unsupported()
        const cp = Number.parseInt(this.#cps.slice(this.#i + 1, end).join(''), 16)
        this.#i = end + 1
        return one(cp)
      }
      return one(hex(4))
    }
    if (/[A-Za-z0-9]/.test(c)) throw new Unsupported() // \b \B \p \k \c, back-references
    return one(c.codePointAt(0)!)
  }

  #class(): Node {
    const negated = this.#peek() === '^'
    if (negated) this.#i++
    const ranges: Array<readonly [number, number]> = []
    let first = true
    for (;;) {
      const c = this.#cps[this.#i]
      if (c === undefined) throw new Unsupported()
      if (c === ']' && !first) break
      first = false
      this.#i++
      let lo: Ranges
      if (c === '\\') lo = this.#escape(true).ranges
      else if (c === '[') throw new Unsupported()
      else lo = [[c.codePointAt(0)!, c.codePointAt(0)!]]
      if (this.#peek() === '-' && this.#cps[this.#i + 1] !== ']' && this.#cps[this.#i + 1] !== undefined) {
        this.#i++
        const d = this.#cps[this.#i++]!
        const hi = d === '\\' ? this.#escape(true).ranges : [[d.codePointAt(0)!, d.codePointAt(0)!] as const]
        if (lo.length !== 1 || hi.length !== 1 || lo[0]![0] !== lo[0]![1] || hi[0]![0] !== hi[0]![1])
          throw new Unsupported()
        ranges.push([lo[0]![0], hi[0]![0]])
      } else ranges.push(...lo)
    }
    this.#i++
    return { k: 'set', ranges, negated }
  }
}

/** JSON's escapes of the characters a JSON string cannot hold as they are. */
const JSON_ESCAPES: ReadonlyArray<readonly [number, string]> = [
  [0x22, '\\"'],
  [0x5c, '\\\\'],
  [0x0a, '\\n'],
  [0x0d, '\\r'],
  [0x09, '\\t'],
  [0x08, '\\b'],
  [0x0c, '\\f'],
]
const NOT_RAW: Ranges = [
  [0x00, 0x1f],
  [0x22, 0x22],
  [0x5c, 0x5c],
]

const within = (cp: number, ranges: Ranges): boolean => ranges.some(([a, b]) => cp >= a && cp <= b)

/** The ranges of `ranges` less those of `minus`. */
function subtract(ranges: Ranges, minus: Ranges): Array<readonly [number, number]> {
  let out: Array<readonly [number, number]> = [...ranges]
  for (const [ma, mb] of minus) {
    out = out.flatMap(([a, b]): Array<readonly [number, number]> => {
      if (mb < a || ma > b) return [[a, b]]
      const kept: Array<readonly [number, number]> = []
      if (a < ma) kept.push([a, ma - 1])
      if (b > mb) kept.push([mb + 1, b])
      return kept
    })
  }
  return out
}

/** One character of a set, as a JSON string writes it. */
function setGrammar(ranges: Ranges, negated: boolean): string {
  const options: string[] = []
  if (negated) options.push(gbnfClass([...ranges, ...NOT_RAW], true))
  else {
    const raw = subtract(ranges, NOT_RAW)
    if (raw.length > 0) {
      const single = raw.length === 1 && raw[0]![0] === raw[0]![1]
      options.push(single ? gbnfLiteral(String.fromCodePoint(raw[0]![0])) : gbnfClass(raw))
    }
  }
  for (const [cp, text] of JSON_ESCAPES) if (within(cp, ranges) !== negated) options.push(gbnfLiteral(text))
  if (options.length === 0) throw new Unsupported()
  return gbnfAlt(options)
}

function emit(n: Node): string {
  switch (n.k) {
    case 'set':
      return setGrammar(n.ranges, n.negated)
    case 'seq':
      return n.items.length === 0 ? '""' : n.items.map(emit).join(' ')
    case 'alt':
      return `(${n.options.map(emit).join(' | ')})`
    case 'rep': {
      const inner = `(${emit(n.node)})`
      if (n.min === 0 && n.max === 1) return `${inner}?`
      if (n.min === 0 && n.max === Infinity) return `${inner}*`
      if (n.min === 1 && n.max === Infinity) return `${inner}+`
      return `${inner}{${n.min},${n.max === Infinity ? '' : n.max}}`
    }
  }
}

/** Whether the character at `i` is escaped by an odd run of backslashes before it. */
function isEscaped(cps: string[], i: number): boolean {
  let n = 0
  for (let j = i - 1; j >= 0 && cps[j] === '\\'; j--) n++
  return n % 2 === 1
}

/**
 * GBNF of a JSON string whose value matches `pattern`, or undefined when the pattern is beyond
 * the subset written as a grammar (it is then checked after generation).
 */
export function patternGrammar(pattern: string): string | undefined {
  const cps = Array.from(pattern)
  const anchoredStart = cps[0] === '^'
  const anchoredEnd =
    cps.length > (anchoredStart ? 1 : 0) && cps.at(-1) === '$' && !isEscaped(cps, cps.length - 1)
  const body = cps.slice(anchoredStart ? 1 : 0, anchoredEnd ? -1 : undefined).join('')
  try {
    const tree = new Parser(body).parse()
    // `^a|b$` anchors each side apart: not written as a grammar.
    if ((anchoredStart || anchoredEnd) && tree.k === 'alt') return undefined
    const free = `${FREE_CHAR}*`
    return [QUOTE, anchoredStart ? '' : free, emit(tree), anchoredEnd ? '' : free, QUOTE]
      .filter((p) => p !== '')
      .join(' ')
  } catch (err) {
    if (err instanceof Unsupported) return undefined
    throw err
  }
}
