import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RbeeError } from '@rbee/common'
import { info } from '@rbee/testing'
import { errors } from 'undici'
import { WorkerEntry } from '../registry/worker-entry.js'
import { classifyTransportError, type TransportFailureKind, transportFailure } from './worker-failure.js'

const sysError = (code: string): Error => Object.assign(new Error(`connect ${code}`), { code })

test('every way a connection to a worker fails has its kind, whichever client saw it', () => {
  const table: Array<[unknown, TransportFailureKind]> = [
    [sysError('ECONNREFUSED'), 'refused'],
    [sysError('ECONNRESET'), 'reset'],
    [sysError('EPIPE'), 'reset'],
    [new errors.SocketError('other side closed'), 'reset'],
    [
      new RbeeError('RBEE_UPSTREAM', 'malformed HTTP response from worker: connection closed mid-body'),
      'reset',
    ],
    [sysError('ETIMEDOUT'), 'timeout'],
    [new errors.ConnectTimeoutError(), 'timeout'],
    [new errors.HeadersTimeoutError(), 'timeout'],
    [new Error('no response headers within 50 ms'), 'timeout'],
    [new errors.HTTPParserError('Response does not match the HTTP/1.1 protocol'), 'bad-response'],
    [new errors.ResponseContentLengthMismatchError(), 'bad-response'],
    [
      new RbeeError('RBEE_UPSTREAM', 'malformed HTTP response from worker: bad chunk size "zz"'),
      'bad-response',
    ],
    [sysError('EHOSTUNREACH'), 'other'],
  ]
  for (const [err, kind] of table) assert.equal(classifyTransportError(err), kind, String(err))
})

test('a transport failure says its kind and asks for a retry elsewhere and a quarantine', () => {
  const worker = new WorkerEntry(info('w1', { port: 1 }), Date.now())
  const f = transportFailure(worker, sysError('ECONNREFUSED'))
  assert.deepEqual([f.retryable, f.quarantine, f.status, f.workerId], [true, true, 502, 'w1'])
  assert.match(f.message, /^worker w1 at http:\/\/[^ ]+ failed \(refused\): ECONNREFUSED/)
  assert.equal(transportFailure(worker, f), f, 'a WorkerFailure passes unchanged')
})
