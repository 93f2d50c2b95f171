/**
 * A hook in node-llama-cpp 3.21.1's JSON-schema grammar, applied as the module is loaded
 * (`hooks.ts`), never to the installed file: before it turns a schema node into a grammar it asks
 * rbee (`installJsonTerminalHook`, json-grammar-patch.ts), which answers for the keywords
 * node-llama-cpp does not write (numeric bounds, `pattern`, the uri/email/uuid/ipv4 formats).
 * node-llama-cpp's function builds every node, tool arguments and structured output alike, and is
 * not reachable from outside its module, hence the change to its source.
 */
export const JSON_TERMINAL_TARGET =
  '/node-llama-cpp/dist/utils/gbnfJson/utils/getGbnfJsonTerminalForGbnfJsonSchema.js'

/** The global the hook is called through, and the one that says the patched module is loaded. */
export const JSON_TERMINAL_HOOK = 'rbee.gbnfJsonTerminal'
export const JSON_TERMINAL_LOADED = 'rbee.gbnfJsonTerminalLoaded'

const ORIGINAL =
  /export function getGbnfJsonTerminalForGbnfJsonSchema\(schema, grammarGenerator, scopeState = new GbnfJsonScopeState\(\), defs = \{\}\) \{\n/g
const CALL = `{ /* rbee: schema terminals */ const rbee = globalThis[Symbol.for(${JSON.stringify(JSON_TERMINAL_HOOK)})]; if (typeof rbee === "function") { const terminal = rbee(schema); if (terminal != null) return terminal; } }\n`
const LOADED = `\nglobalThis[Symbol.for(${JSON.stringify(JSON_TERMINAL_LOADED)})] = true;\n`

/** The patched source, or undefined when it is not the code the patch was written for. */
export function patchJsonTerminal(source: string): string | undefined {
  if ((source.match(ORIGINAL) ?? []).length !== 1) return undefined
  return source.replace(ORIGINAL, (line) => `${line}    ${CALL}`) + LOADED
}
