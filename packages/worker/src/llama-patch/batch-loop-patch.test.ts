import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { PATCH_MARKER, PATCH_TARGET, patchBatchLoop } from './batch-loop-patch.js'

const here = dirname(fileURLToPath(import.meta.url))

/** Whether the engine module, loaded in a fresh node, sees a patched node-llama-cpp. */
async function patchedInFreshProcess(register: boolean): Promise<string> {
  const url = (p: string): string => JSON.stringify(new URL(`file://${join(here, '..', p)}`).href)
  const script = `${register ? `(await import(${url('llama-patch/register.js')})).registerLlamaPatch();` : ''}
const m = await import(${url('engine/llama-engine.js')}); console.log(m.batchLoopPatched())`
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script])
  return stdout.trim()
}

describe("node-llama-cpp's batch loop patch", () => {
  test('applies to the installed node-llama-cpp (a new version that breaks it fails here)', () => {
    const entry = createRequire(import.meta.url).resolve('node-llama-cpp')
    const file = join(dirname(entry), PATCH_TARGET.slice('/node-llama-cpp/dist/'.length))
    const patched = patchBatchLoop(readFileSync(file, 'utf8'))
    assert.ok(patched?.includes(PATCH_MARKER))
    // The items a prioritization strategy sees say whose tokens they are.
    assert.match(patched ?? '', /const batchItem = \{\s*sequenceId: queuedDecode\.sequenceId,/)
  })

  test('leaves code it was not written for alone', () => {
    assert.equal(patchBatchLoop('while (true) {}'), undefined)
  })

  test('the worker entry point loads node-llama-cpp patched; without the hooks it is not', async () => {
    assert.equal(await patchedInFreshProcess(true), 'true')
    assert.equal(await patchedInFreshProcess(false), 'false')
  })
})
