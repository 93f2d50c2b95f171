import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { RbeeError } from '@rbee/common'
import { collectGarbageEvery, LocalHub } from '@rbee/testing'
import { HfHub } from './hf-hub.js'

let hub: LocalHub

before(async () => {
  hub = await LocalHub.start()
  hub.addRepo('acme', 'silent', { 'm.gguf': Buffer.from('GGUF') }, { silent: true })
})

after(() => hub?.close())

/**
 * Runs `call` against a hub that never answers, collecting garbage every 10 ms while it waits
 * (that is what lost the timeout before), and resolves with how long it took to fail.
 */
async function failsAfter(call: (hf: HfHub, signal: AbortSignal) => Promise<unknown>): Promise<number> {
  const hf = new HfHub({ endpoint: hub.url, timeoutMs: 300 })
  const stopGc = collectGarbageEvery(10)
  const guard = new AbortController()
  const limit = setTimeout(() => guard.abort(new Error('still waiting after 5000 ms')), 5000)
  const started = performance.now()
  try {
    await assert.rejects(call(hf, guard.signal), (err: unknown) => {
      assert.ok(err instanceof RbeeError, String(err))
      assert.equal(err.code, 'RBEE_DOWNLOAD_FAILED')
      assert.match(err.message, /^cannot reach http:\/\/127\.0\.0\.1:\d+ for .*: no answer within 300 ms$/)
      return true
    })
    return performance.now() - started
  } finally {
    clearTimeout(limit)
    stopGc()
  }
}

test('a hub that never answers a HEAD fails the probe within its timeout, garbage collection or not', async () => {
  const ms = await failsAfter((hf, signal) => hf.probe('acme', 'silent', 'm.gguf', signal))
  assert.ok(ms < 1500, `failed after ${Math.round(ms)} ms`)
})

test('a hub that never answers the repo listing fails it within its timeout, garbage collection or not', async () => {
  const ms = await failsAfter((hf, signal) => hf.listFiles('acme', 'silent', signal))
  assert.ok(ms < 1500, `failed after ${Math.round(ms)} ms`)
})
