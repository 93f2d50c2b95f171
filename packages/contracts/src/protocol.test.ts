import assert from 'node:assert/strict'
import { test } from 'node:test'
import { protocolCompatible, protocolMismatch, RBEE_PROTOCOL, RBEE_VERSION } from './protocol.js'

test('a peer of the same protocol is compatible whatever its release', () => {
  assert.equal(protocolCompatible(RBEE_PROTOCOL), true)
  assert.equal(
    protocolMismatch('hive a', { version: '9.9.9', protocol: RBEE_PROTOCOL }, 'this queen'),
    undefined,
  )
})

test('a peer of another protocol is refused with a message naming both releases and protocols', () => {
  const why = protocolMismatch('hive a', { version: '0.2.0', protocol: RBEE_PROTOCOL + 1 }, 'this queen')
  assert.ok(why)
  assert.match(why, /hive a runs rbee 0\.2\.0 \(protocol \d+\)/)
  assert.ok(why.includes(`this queen runs rbee ${RBEE_VERSION} (protocol ${RBEE_PROTOCOL})`), why)
})
