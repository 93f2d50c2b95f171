import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { JSON_TERMINAL_TARGET, patchJsonTerminal } from './json-terminal-patch.js'

const here = dirname(fileURLToPath(import.meta.url))

/** Whether a fresh node, with or without the loader hooks, writes rbee's grammar for a bounded integer. */
async function writtenInFreshProcess(register: boolean): Promise<string> {
  const url = (p: string): string => JSON.stringify(new URL(`file://${join(here, '..', p)}`).href)
  const script = `${register ? `(await import(${url('llama-patch/register.js')})).registerLlamaPatch();` : ''}
await import(${url('engine/llama-engine.js')})
const p = await import(${url('llama-patch/json-grammar-patch.js')})
await p.patchJsonGrammar()
console.log(p.schemaGrammarsWritten())`
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script])
  return stdout.trim()
}

describe("node-llama-cpp's JSON-schema grammar hook", () => {
  test('applies to the installed node-llama-cpp (a new version that breaks it fails here)', () => {
    const entry = createRequire(import.meta.url).resolve('node-llama-cpp')
    const file = join(dirname(entry), JSON_TERMINAL_TARGET.slice('/node-llama-cpp/dist/'.length))
    const patched = patchJsonTerminal(readFileSync(file, 'utf8'))
    assert.match(patched ?? '', /rbee: schema terminals/)
    assert.equal(patchJsonTerminal('export function other() {}'), undefined)
  })

  test("the worker's entry point writes rbee's grammars; without the hooks only the check after generation holds", async () => {
    assert.equal(await writtenInFreshProcess(true), 'true')
    assert.equal(await writtenInFreshProcess(false), 'false')
  })
})
