import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { RbeeError } from '../errors.js'
import { MAX_SSE_EVENT_CHARS, readSse } from './sse-reader.js'

const encoder = new TextEncoder()

/** A stream of `count` chunks of `chunk`, after `first`. */
async function* chunks(first: string, chunk: string, count: number): AsyncGenerator<Uint8Array> {
  yield encoder.encode(first)
  const bytes = encoder.encode(chunk)
  for (let i = 0; i < count; i++) yield bytes
}

describe('SSE reader', () => {
  test('an event whose data never ends is cut off at the size limit instead of filling memory', async () => {
    const line = `data: ${'x'.repeat(64 * 1024 - 7)}\n`
    const count = Math.ceil(MAX_SSE_EVENT_CHARS / line.length) + 2
    const got: string[] = []
    await assert.rejects(
      (async () => {
        for await (const m of readSse(chunks('event: a\ndata: 1\n\n', line, count))) got.push(m.data)
      })(),
      (e: unknown) => e instanceof RbeeError && e.code === 'RBEE_UPSTREAM' && /longer than/.test(e.message),
    )
    assert.deepEqual(got, ['1'])
  })

  test('a long stream of events below the limit is read whole, however long it runs', async () => {
    const event = `data: ${'y'.repeat(60 * 1024)}\n\n`
    let n = 0
    for await (const m of readSse(
      chunks(': hello\n\n', event, Math.ceil((2 * MAX_SSE_EVENT_CHARS) / event.length)),
    )) {
      assert.equal(m.data.length, 60 * 1024)
      n++
    }
    assert.equal(n, Math.ceil((2 * MAX_SSE_EVENT_CHARS) / event.length))
  })
})
