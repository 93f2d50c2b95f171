import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RbeeError } from './errors.js'
import { parseDeadline, requestDeadline, timeoutHeaderValue } from './request-deadline.js'

const NOW = Date.parse('2026-11-27T10:00:00Z')

/** Asserts a 400 that names `header` (message and field path) and matches `why`. */
function refused(fn: () => unknown, header: string, why: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof RbeeError)
    assert.equal(e.status, 400)
    assert.match(e.message, new RegExp(`^invalid ${header} header: `))
    assert.match(e.message, why)
    assert.equal((e.details as { issues: Array<{ path: string }> }).issues[0]?.path, header)
    return true
  })
}

test('X-Request-Deadline takes RFC 3339 with an offset or epoch milliseconds; X-Request-Timeout seconds; the earlier wins', () => {
  assert.equal(parseDeadline('2026-11-27T10:00:30Z', NOW), NOW + 30_000)
  assert.equal(parseDeadline('2026-11-27t11:00:30.250+01:00', NOW), NOW + 30_250)
  assert.equal(parseDeadline(String(NOW + 5000), NOW), NOW + 5000)
  assert.equal(requestDeadline({}, NOW), undefined)
  assert.equal(requestDeadline({ 'x-request-timeout': '2.5' }, NOW), NOW + 2500)
  assert.equal(
    requestDeadline({ 'x-request-timeout': '60', 'x-request-deadline': '2026-11-27T10:00:10Z' }, NOW),
    NOW + 10_000,
  )
  assert.equal(requestDeadline({ 'x-request-timeout': ' 1 ' }, NOW), NOW + 1000)
})

test('a malformed, ambiguous, past, too distant or repeated deadline header is a 400 naming it', () => {
  const t = 'X-Request-Timeout'
  const d = 'X-Request-Deadline'
  refused(() => requestDeadline({ 'x-request-timeout': 'soon' }, NOW), t, /'soon' is not a number of seconds/)
  refused(() => requestDeadline({ 'x-request-timeout': '-1' }, NOW), t, /not a number of seconds/)
  refused(() => requestDeadline({ 'x-request-timeout': '1e3' }, NOW), t, /not a number of seconds/)
  refused(() => requestDeadline({ 'x-request-timeout': '0' }, NOW), t, /more than 0 seconds/)
  refused(() => requestDeadline({ 'x-request-timeout': '604801' }, NOW), t, /at most 604800 seconds/)
  refused(() => requestDeadline({ 'x-request-timeout': ['1', '2'] }, NOW), t, /given more than once/)
  // A local time without an offset and epoch seconds could each be read two ways.
  refused(
    () => requestDeadline({ 'x-request-deadline': '2026-11-27T10:00:30' }, NOW),
    d,
    /neither an RFC 3339/,
  )
  refused(
    () => requestDeadline({ 'x-request-deadline': String(NOW / 1000 + 30) }, NOW),
    d,
    /epoch milliseconds/,
  )
  refused(() => requestDeadline({ 'x-request-deadline': '2026-02-30T10:00:00Z' }, NOW), d, /neither/)
  refused(() => requestDeadline({ 'x-request-deadline': '2026-11-27T09:59:59Z' }, NOW), d, /is in the past/)
  refused(() => requestDeadline({ 'x-request-deadline': String(NOW) }, NOW), d, /is in the past/)
  refused(() => requestDeadline({ 'x-request-deadline': '2026-12-05T10:00:00Z' }, NOW), d, /more than 604800/)
  refused(() => requestDeadline({ 'x-request-deadline': `\u0000${'x'.repeat(100)}` }, NOW), d, /'\?x{63}…'/)
})

test('what is left of a deadline goes on as seconds to the millisecond, never 0', () => {
  assert.equal(timeoutHeaderValue(NOW + 2345, NOW), '2.345')
  assert.equal(timeoutHeaderValue(NOW + 0.2, NOW), '0.001')
  assert.equal(timeoutHeaderValue(NOW - 50, NOW), '0.001')
})
