import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { QueenClient } from '@rbee/client'
import { metricValue, type StartedQueen, startQueen, waitFor } from '@rbee/testing'

const ALICE = 'sk-alice-0123456789'
const BOB = 'sk-bob-0123456789ab'
const GRACE_MS = 500

// A real queen with two user keys, one request per key at a time, and a short grace for jobs
// nobody follows; its local hive runs real workers on the built-in model.
describe('one client cannot hold the queue for everyone', () => {
  let queen: StartedQueen
  let alice: QueenClient
  before(async () => {
    queen = await startQueen({
      apiKeys: [ALICE, BOB],
      args: ['--key-limit', '1', '--job-grace-ms', String(GRACE_MS), '--worker-ctx-size', '16384'],
    })
    alice = new QueenClient({ baseUrl: queen.url, token: ALICE })
  })
  after(async () => {
    await alice?.close()
    await queen?.close()
  })

  const complete = (key: string, maxTokens: number, signal?: AbortSignal) =>
    fetch(`${queen.url}/v1/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tiny', prompt: 'x', max_tokens: maxTokens, stream: true }),
      signal,
    })

  test('a key at its limit gets 429 with Retry-After while another key is served, and its place comes back', async () => {
    const ac = new AbortController()
    const long = await complete(ALICE, 10_000, ac.signal)
    assert.equal(long.status, 200)
    const reader = long.body!.getReader()
    await reader.read()
    const second = await complete(ALICE, 2)
    assert.equal(second.status, 429)
    assert.ok(Number(second.headers.get('retry-after')) >= 1)
    const body = (await second.json()) as { error: { code: string; message: string } }
    assert.equal(body.error.code, 'RBEE_QUEUE_FULL')
    assert.match(body.error.message, /limit per key is 1/)
    const bob = await complete(BOB, 2)
    assert.equal(bob.status, 200)
    await bob.text()
    ac.abort()
    await reader.cancel().catch(() => {})
    await waitFor(
      'a place for the key again',
      async () => (await complete(ALICE, 1)).status === 200,
      5000,
      20,
    )
  })

  test('an infer job nobody follows is cancelled after the grace and stops generating', async () => {
    const cancelled = async () =>
      metricValue(await alice.metrics(), 'rbee_queen_requests_total', { route: 'job', outcome: 'cancelled' })
    const before = await cancelled()
    const t0 = performance.now()
    const created = await alice.submit({ operation: 'infer', model: 'tiny', prompt: 'x', max_tokens: 10_000 })
    await waitFor('the unread job to be cancelled', async () => (await cancelled()) > before, 10_000, 20)
    const waited = performance.now() - t0
    assert.ok(waited >= GRACE_MS * 0.9, `cancelled after ${waited} ms, before its grace`)
    const state = (await (
      await fetch(`${queen.url}/v1/jobs/${created.job_id}`, { headers: { authorization: `Bearer ${ALICE}` } })
    ).json()) as { state: string }
    assert.equal(state.state, 'cancelled')
    // Its place under the key's limit is free again.
    const r = await complete(ALICE, 1)
    assert.equal(r.status, 200)
    await r.text()
  })
})
