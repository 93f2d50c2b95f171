import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import { test } from 'node:test'
import { createLogger } from '@rbee/common'
import { RBEE_PROTOCOL, RBEE_VERSION } from '@rbee/contracts'
import { waitFor } from '@rbee/testing'
import { QueenRegistration } from './queen-registration.js'

test('a hive refused by a queen of another protocol logs the queen’s message as an error, once, and keeps asking', async (t) => {
  // A TEST DOUBLE of a queen of another release (only this build is installed here): it refuses
  // every registration as a real one of another protocol does.
  const refusal =
    'hive h1 runs rbee 0.1.0 (protocol 1) and this queen runs rbee 9.0.0 (protocol 2): they cannot work together; install the same rbee release on both'
  let asked = 0
  const queen = createServer((req, res) => {
    asked++
    req.resume()
    res.writeHead(409, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ error: { code: 'RBEE_PROTOCOL_MISMATCH', message: refusal } }))
  })
  await new Promise<void>((resolve) => queen.listen(0, '127.0.0.1', resolve))
  t.after(() => queen.close())
  const lines: Array<{ level: number; msg: string; queen_says?: string }> = []
  const logger = createLogger({
    name: 'rbee-hive',
    level: 'info',
    destination: new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()))
        done()
      },
    }),
  })
  const registration = new QueenRegistration({
    queenUrl: `http://127.0.0.1:${(queen.address() as AddressInfo).port}`,
    announcement: {
      hive_id: 'h1',
      hive_url: 'http://127.0.0.1:7835',
      version: RBEE_VERSION,
      protocol: RBEE_PROTOCOL,
    },
    logger,
    initialBackoffMs: 1,
    maxBackoffMs: 20,
  })
  registration.start()
  t.after(() => registration.close())
  await waitFor('three registrations', () => asked >= 3)
  const errors = lines.filter((l) => l.level === 50)
  assert.deepEqual(
    errors.map((l) => [l.msg, l.queen_says]),
    [['the queen refused this hive: incompatible protocol', refusal]],
  )
  assert.equal(registration.registered, false)
})
