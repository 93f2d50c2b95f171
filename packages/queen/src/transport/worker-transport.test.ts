import assert from 'node:assert/strict'
import { once } from 'node:events'
import { type AddressInfo, createServer, type Socket } from 'node:net'
import { type TestContext, test } from 'node:test'
import { deferred } from '@rbee/common'
import { info } from '@rbee/testing'
import { type RelayTarget, relayOpenAi } from '../proxy/openai-relay.js'
import { WorkerEntry } from '../registry/worker-entry.js'
import { RawTransport } from './raw-transport.js'
import { UndiciTransport, type WorkerTransportOptions } from './undici-transport.js'
import { WorkerFailure } from './worker-failure.js'
import { STALE_RETRY_WINDOW_MS, type StreamSink, type WorkerTransport } from './worker-transport.js'

/** Every test runs over both transports: they must behave alike to their callers. */
const TRANSPORTS: [string, (o?: WorkerTransportOptions) => WorkerTransport][] = [
  ['raw', (o) => new RawTransport(o)],
  ['undici', (o) => new UndiciTransport(o)],
]

const ANSWER =
  'HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n' +
  'c\r\ndata: hello\n\r\n0\r\n\r\n'

/**
 * A worker stand-in on a real socket: `onRequest` gets each request (head and body) with the
 * connection it came on and how many requests that connection carried before.
 */
async function peer(t: TestContext, onRequest: (socket: Socket, nth: number, request: string) => void) {
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    let nth = 0
    let buf = ''
    socket.on('data', (d) => {
      buf += d.toString('latin1')
      const end = buf.indexOf('\r\n\r\n')
      if (end < 0) return
      const length = Number(/content-length: (\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0)
      if (buf.length < end + 4 + length) return
      const request = buf.slice(0, end + 4 + length)
      buf = buf.slice(end + 4 + length)
      onRequest(socket, nth++, request)
    })
    socket.on('error', () => {})
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => {
    for (const s of sockets) s.destroy()
    server.close()
  })
  const port = (server.address() as AddressInfo).port
  return { worker: new WorkerEntry(info('w1', { port }), Date.now()), connections: () => sockets.size }
}

/** Streams one request and resolves with what the sink saw. */
function run(
  proxy: WorkerTransport,
  worker: WorkerEntry,
  signal = new AbortController().signal,
  headersTimeoutMs = 5000,
) {
  const done = deferred<{ status: number; body: string; error?: unknown }>()
  let status = 0
  let body = ''
  const sink: StreamSink = {
    onHeaders: (s) => (status = s),
    onData: (c) => {
      body += c.toString()
      return true
    },
    // A client's next request comes after the end was handled (undici frees the connection then).
    onEnd: () => setImmediate(() => done.resolve({ status, body })),
    onError: (error) => done.resolve({ status, body, error }),
  }
  proxy.stream(
    worker,
    '/v1/completions',
    '{"prompt":"hi"}',
    { signal, requestId: 'r-1', headersTimeoutMs },
    sink,
  )
  return done.promise
}

/** Relays one OpenAI request whose answer is a stream, into `target`. */
function relayStream(proxy: WorkerTransport, worker: WorkerEntry, path: string, target: RelayTarget) {
  return relayOpenAi({
    transport: proxy,
    worker,
    path,
    body: '{}',
    signal: new AbortController().signal,
    requestId: 'r-1',
    headersTimeoutMs: 5000,
    commit: () => target,
    sendWhole: () => assert.fail('not a whole answer'),
    onFirstToken: () => {},
  })
}
for (const [kind, make] of TRANSPORTS) {
  test(`${kind}: streamed requests share one kept-alive connection and carry the node token and request id`, async (t) => {
    const requests: string[] = []
    const p = await peer(t, (socket, _nth, request) => {
      requests.push(request)
      socket.write(ANSWER)
    })
    const proxy = make({ token: 'node-secret' })
    t.after(() => proxy.close())
    for (let i = 0; i < 3; i++)
      assert.deepEqual(await run(proxy, p.worker), { status: 200, body: 'data: hello\n' })
    // undici's pool hands the next request to another connection while the last one is being
    // freed, so two take turns; the raw pool reuses the one.
    assert.equal(p.connections(), kind === 'raw' ? 1 : 2)
    assert.match(requests[0]!, /^POST \/v1\/completions HTTP\/1\.1\r\n/)
    assert.match(requests[0]!, /\r\nauthorization: Bearer node-secret\r\n/)
    assert.match(requests[0]!, /\r\nx-request-id: r-1\r\n/)
    assert.match(requests[0]!, /\r\ncontent-length: 15\r\n\r\n\{"prompt":"hi"\}$/)
  })

  test(`${kind}: a kept-alive connection the worker closes as it is reused is replaced once, without a failure`, async (t) => {
    // Answers the first request of each connection; closes a connection at its second request,
    // unanswered: a worker whose keep-alive timeout ran out just as the queen reused the socket.
    let requests = 0
    const p = await peer(t, (socket, nth) => {
      requests++
      return nth === 0 ? socket.write(ANSWER) : socket.destroy()
    })
    const proxy = make()
    t.after(() => proxy.close())
    assert.deepEqual(await run(proxy, p.worker), { status: 200, body: 'data: hello\n' })
    // undici checks an idle socket in a setImmediate before it hands it out again.
    await new Promise((r) => setImmediate(r))
    assert.deepEqual(await run(proxy, p.worker), { status: 200, body: 'data: hello\n' })
    assert.equal(p.connections(), 2)
    assert.equal(requests, 3, 'answered, dropped on the reused connection, sent again on a new one')
  })

  test(`${kind}: a reused connection that fails long after the request went out is not replayed`, async (t) => {
    let requests = 0
    // The second request on the connection is dropped after a while: the worker died on it.
    const p = await peer(t, (socket, nth) => {
      requests++
      if (nth === 0) socket.write(ANSWER)
      else setTimeout(() => socket.destroy(), STALE_RETRY_WINDOW_MS + 200)
    })
    const proxy = make()
    t.after(() => proxy.close())
    assert.deepEqual(await run(proxy, p.worker), { status: 200, body: 'data: hello\n' })
    await new Promise((r) => setImmediate(r))
    const dropped = await run(proxy, p.worker)
    assert.ok(dropped.error instanceof WorkerFailure && dropped.error.retryable, String(dropped.error))
    assert.equal(requests, 2, 'the request was not sent to the worker again')
  })

  test(`${kind}: after close() a request is refused as the queen's shutdown, blaming no worker`, async (t) => {
    const p = await peer(t, (socket) => socket.write(ANSWER))
    const proxy = make()
    await proxy.close()
    const late = await run(proxy, p.worker)
    assert.ok(!(late.error instanceof WorkerFailure), String(late.error))
    assert.match(String((late.error as Error).message), /shutting down/)
  })

  test(`${kind}: a worker that drops the connection mid-answer, or refuses it, is a retryable WorkerFailure`, async (t) => {
    const p = await peer(t, (socket) => {
      socket.write(ANSWER.slice(0, ANSWER.indexOf('0\r\n\r\n')))
      socket.destroy()
    })
    const proxy = make()
    t.after(() => proxy.close())
    const cut = await run(proxy, p.worker)
    assert.equal(cut.body, 'data: hello\n', 'what arrived was passed on')
    assert.ok(cut.error instanceof WorkerFailure && cut.error.retryable, String(cut.error))
    assert.match(String((cut.error as Error).message), /failed \(reset\)/)

    const gone = new WorkerEntry(info('w2', { port: 1 }), Date.now())
    const refused = await run(proxy, gone)
    assert.ok(refused.error instanceof WorkerFailure && refused.error.quarantine, String(refused.error))
    assert.match(String((refused.error as Error).message), /failed \(refused\): ECONNREFUSED/)
  })

  test(`${kind}: a worker that never answers, or answers garbage, is a timeout or a bad response`, async (t) => {
    const silent = await peer(t, () => {})
    const proxy = make()
    t.after(() => proxy.close())
    const hung = await run(proxy, silent.worker, undefined, 50)
    assert.ok(hung.error instanceof WorkerFailure && hung.error.retryable, String(hung.error))
    assert.match(String((hung.error as Error).message), /failed \(timeout\)/)
    const garbled = await peer(t, (socket) => socket.end('SMTP ready\r\n\r\n'))
    const bad = await run(proxy, garbled.worker)
    assert.ok(bad.error instanceof WorkerFailure && bad.error.quarantine, String(bad.error))
    assert.match(String((bad.error as Error).message), /failed \(bad-response\)/)
  })

  test(`${kind}: aborting a streamed request closes its connection and reports the reason`, async (t) => {
    const answering = deferred<void>()
    const closed = deferred<void>()
    const p = await peer(t, (socket) => {
      socket.write(ANSWER.slice(0, ANSWER.indexOf('0\r\n\r\n')))
      socket.on('close', () => closed.resolve())
      answering.resolve()
    })
    const proxy = make()
    t.after(() => proxy.close())
    const ac = new AbortController()
    const result = run(proxy, p.worker, ac.signal)
    await answering.promise
    const reason = new Error('client went away')
    ac.abort(reason)
    assert.equal((await result).error, reason)
    await closed.promise
  })

  // The raw pool's own concern: undici does not deliver an answer's end while paused, and pools
  // the connection itself once it is resumed.
  test(`${kind}: a connection paused for a full client as its answer ended is read again when reused`, {
    skip: kind !== 'raw',
  }, async (t) => {
    const p = await peer(t, (socket) => socket.write(ANSWER))
    const proxy = make()
    t.after(() => proxy.close())
    const done = deferred<string>()
    let body = ''
    // Says "stop" at every piece, as a client whose socket is full, and never resumes.
    proxy.stream(
      p.worker,
      '/v1/completions',
      '{}',
      { signal: new AbortController().signal, headersTimeoutMs: 5000 },
      {
        onHeaders: () => {},
        onData: (c) => {
          body += c.toString()
          return false
        },
        onEnd: () => done.resolve(body),
        onError: (err) => done.reject(err),
      },
    )
    assert.equal(await done.promise, 'data: hello\n')
    assert.deepEqual(await run(proxy, p.worker), { status: 200, body: 'data: hello\n' })
    assert.equal(p.connections(), 1, 'the same connection carried the second request')
  })

  test(`${kind}: a stream that sends megabytes without a token frame is a worker failure, not memory held`, async (t) => {
    const p = await peer(t, (socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n')
      // 9 MiB of one frame that never ends, in 1 MiB chunks.
      const mib = Buffer.alloc(1024 * 1024, 'x')
      for (let i = 0; i < 9; i++) socket.write(`${mib.length.toString(16)}\r\n${mib.toString('latin1')}\r\n`)
    })
    const proxy = make()
    t.after(() => proxy.close())
    const target: RelayTarget = {
      write: () => assert.fail('nothing is committed'),
      end: () => assert.fail('nothing is committed'),
      destroy: () => {},
      destroyed: false,
      on: () => target,
    }
    await assert.rejects(relayStream(proxy, p.worker, '/v1/completions', target), (err: unknown) => {
      assert.ok(err instanceof WorkerFailure && err.retryable, String(err))
      assert.match(String((err as Error).message), /no token frame within its first 8 MiB/)
      return true
    })
  })

  test(`${kind}: relayed in its own chunks, an answer cut inside a chunk still ends in whole chunks and an error frame`, async (t) => {
    const token = (text: string) => `data: {"choices":[{"text":"${text}","finish_reason":null}]}\n\n`
    const chunk = (data: string) => `${Buffer.byteLength(data).toString(16)}\r\n${data}\r\n`
    const p = await peer(t, (socket) => {
      socket.write(
        'HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n' +
          chunk(token('a')),
      )
      // The next chunk announces more than comes: the worker dies halfway through it.
      setTimeout(() => socket.end(`${chunk(token('b'))}40\r\ndata: {"cho`), 20)
    })
    const proxy = make()
    t.after(() => proxy.close())
    let wire = ''
    const target: RelayTarget = {
      write: (c) => {
        wire += chunk(c.toString('latin1'))
        return true
      },
      writeChunked: (bytes) => {
        wire += bytes.toString('latin1')
        return true
      },
      end: (last) => {
        if (last) wire += chunk(last)
        wire += '0\r\n\r\n'
      },
      destroy: () => {},
      destroyed: false,
      on: () => target,
    }
    const outcome = await relayStream(proxy, p.worker, '/v1/completions', target)
    assert.equal(outcome.outcome, 'error')
    assert.equal(outcome.tokens, 2)
    // Read the client's bytes back as chunked coding: every chunk whole, the error frame last.
    const frames: string[] = []
    let pos = 0
    for (;;) {
      const eol = wire.indexOf('\r\n', pos)
      const size = Number.parseInt(wire.slice(pos, eol), 16)
      assert.ok(Number.isInteger(size), `a size line at ${pos}`)
      if (size === 0) break
      frames.push(wire.slice(eol + 2, eol + 2 + size))
      assert.equal(wire.slice(eol + 2 + size, eol + 4 + size), '\r\n')
      pos = eol + 4 + size
    }
    // Read as SSE: the cut frame is ended (by the rest of its chunk as newlines where chunks
    // pass through), so the error frame is an event of its own, the last.
    const sse = frames.join('')
    assert.ok(sse.startsWith(`${token('a')}${token('b')}data: {"cho\n\n`), JSON.stringify(sse))
    assert.match(sse, /\n\ndata: \{"error"[^\n]*failed mid-stream after 2 tokens[^\n]*\n\n$/)
  })

  test(`${kind}: a chat stream whose output is a tool call is passed on from the call’s first piece, not held to its end`, {
    timeout: 5000,
  }, async (t) => {
    const frame = (delta: object, finish: string | null = null) =>
      `data: ${JSON.stringify({ choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`
    const chunk = (data: string) => `${Buffer.byteLength(data).toString(16)}\r\n${data}\r\n`
    const rest = deferred<void>()
    const p = await peer(t, (socket) => {
      socket.write(
        'HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n' +
          chunk(frame({ role: 'assistant', content: '' })) +
          chunk(
            frame({
              tool_calls: [
                { index: 0, id: 'call_1', type: 'function', function: { name: 'f', arguments: '' } },
              ],
            }),
          ),
      )
      // The rest of the call comes only once the first piece has reached the client.
      void rest.promise.then(() =>
        socket.end(
          chunk(frame({ tool_calls: [{ index: 0, function: { arguments: '{}' } }] })) +
            chunk(frame({}, 'tool_calls')) +
            chunk('data: [DONE]\n\n') +
            '0\r\n\r\n',
        ),
      )
    })
    const proxy = make()
    t.after(() => proxy.close())
    let wire = ''
    const target: RelayTarget = {
      write: (c) => {
        wire += c.toString()
        if (wire.includes('call_1')) rest.resolve()
        return true
      },
      end: () => {},
      destroy: () => {},
      destroyed: false,
      on: () => target,
    }
    const outcome = await relayStream(proxy, p.worker, '/v1/chat/completions', target)
    assert.equal(outcome.outcome, 'ok')
    assert.match(wire, /"arguments":"\{\}"/)
    assert.equal(outcome.tokens, 2, 'the two pieces of the call')
  })
}
