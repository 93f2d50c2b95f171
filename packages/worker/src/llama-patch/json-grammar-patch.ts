import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { nodeGrammar } from '../engine/constraints/schema-grammar.js'
import { RBEE_FORMAT_KEY } from '../engine/json-grammar.js'
import { JSON_TERMINAL_HOOK, JSON_TERMINAL_LOADED } from './json-terminal-patch.js'

/**
 * Two fixes to node-llama-cpp 3.21.1's JSON-schema grammar, which tool-call arguments and
 * structured output are generated under, so that what it lets a model write always validates:
 *
 * 1. Numbers. It allows an exponent of up to 16 digits: the noise test model wrote `7e779314`,
 *    which every JSON parser reads as Infinity (3 of 9 tries of an object with one integer), and
 *    an integer with a negative exponent (`5e-3` is no integer). Patched: an integer has no
 *    exponent (as llama.cpp's own JSON-schema grammar writes it), another number one of at most
 *    2 digits (the largest, 9.99…e15 × 1e99, is far from a double's limit).
 * 2. Dates. Its `date` (and `date-time`) grammar allows day 31 of every month (`2024-02-31`,
 *    which JSON Schema validators refuse). Patched: days up to 30 in April, June, September and
 *    November, up to 28 in February (valid in every year).
 *
 * Both are methods of classes node-llama-cpp does not export; they are patched on the classes
 * themselves (one module instance per process), found next to its entry point.
 *
 * And one addition: the grammar of the keywords node-llama-cpp does not write (numeric bounds,
 * `pattern`, the uri/email/uuid/ipv4 formats; engine/constraints/schema-grammar.ts), through the
 * hook json-terminal-patch.ts puts into its source as it is loaded.
 */
export const INTEGER_GRAMMAR = '"-"? ("0" | [1-9] [0-9]{0,15})'
export const NUMBER_GRAMMAR = `${INTEGER_GRAMMAR} ("." [0-9]{1,16})? ([eE] [-+]? [0-9]{1,2})?`
export const DATE_GRAMMAR =
  '[0-9]{4} "-" (("0" [13578] | "1" [02]) "-" ("0" [1-9] | [12] [0-9] | "3" [01]) | ("0" [469] | "11") "-" ("0" [1-9] | [12] [0-9] | "30") | "02" "-" ("0" [1-9] | "1" [0-9] | "2" [0-8]))'

interface GbnfTerminalClass {
  new (): object
}
interface GbnfNumberClass {
  prototype: { allowFractional: boolean; getGrammar(): string }
}
interface GbnfFormatStringClass {
  prototype: { _getDateGrammar(): string }
}

let applied: Promise<boolean> | undefined

async function terminal<T>(file: string, name: string): Promise<T | undefined> {
  // node-llama-cpp/dist/index.js → node-llama-cpp/dist/utils/gbnfJson/<file>
  const entry = createRequire(import.meta.url).resolve('node-llama-cpp')
  const url = pathToFileURL(join(dirname(entry), 'utils', 'gbnfJson', file)).href
  const mod = (await import(url)) as Record<string, unknown>
  return mod[name] as T | undefined
}

async function apply(): Promise<boolean> {
  const GbnfNumber = await terminal<GbnfNumberClass>('terminals/GbnfNumber.js', 'GbnfNumber')
  const GbnfFormatString = await terminal<GbnfFormatStringClass>(
    'terminals/GbnfFormatString.js',
    'GbnfFormatString',
  )
  if (
    typeof GbnfNumber?.prototype.getGrammar !== 'function' ||
    typeof GbnfFormatString?.prototype._getDateGrammar !== 'function'
  )
    return false
  GbnfNumber.prototype.getGrammar = function getGrammar(this: { allowFractional: boolean }): string {
    return this.allowFractional ? NUMBER_GRAMMAR : INTEGER_GRAMMAR
  }
  GbnfFormatString.prototype._getDateGrammar = (): string => DATE_GRAMMAR
  const GbnfTerminal = await terminal<GbnfTerminalClass>('GbnfTerminal.js', 'GbnfTerminal')
  if (typeof GbnfTerminal === 'function') installJsonTerminalHook(GbnfTerminal)
  return true
}

/** Answers node-llama-cpp's patched node builder with rbee's grammar where rbee writes one. */
function installJsonTerminalHook(GbnfTerminal: GbnfTerminalClass): void {
  class RbeeTerminal extends GbnfTerminal {
    readonly #grammar: string
    constructor(grammar: string) {
      super()
      this.#grammar = grammar
    }
    getGrammar(): string {
      return this.#grammar
    }
  }
  const hook = (schema: unknown): object | undefined => {
    if (typeof schema !== 'object' || schema === null) return undefined
    const node = schema as { [key: string]: unknown }
    const format = node[RBEE_FORMAT_KEY]
    const grammar = nodeGrammar(format === undefined ? node : { ...node, format })
    return grammar === undefined ? undefined : new RbeeTerminal(grammar)
  }
  ;(globalThis as Record<symbol, unknown>)[Symbol.for(JSON_TERMINAL_HOOK)] = hook
}

/**
 * Whether rbee's grammars of numeric bounds, patterns and formats are in use: the hook is
 * installed and node-llama-cpp's node builder was loaded patched (the worker's entry point
 * registers the loader hooks first). Without them those keywords are only checked after
 * generation.
 */
export function schemaGrammarsWritten(): boolean {
  const g = globalThis as Record<symbol, unknown>
  return (
    g[Symbol.for(JSON_TERMINAL_LOADED)] === true && typeof g[Symbol.for(JSON_TERMINAL_HOOK)] === 'function'
  )
}

/**
 * Applies the fixes (once per process; later calls return the first result). False when
 * node-llama-cpp's files are not where 3.21.1 has them: its grammar is then used as it is.
 */
export function patchJsonGrammar(): Promise<boolean> {
  applied ??= apply().catch(() => false)
  return applied
}
