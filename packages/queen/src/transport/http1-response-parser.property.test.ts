import assert from 'node:assert/strict'
import { once } from 'node:events'
import { request } from 'node:http'
import { type AddressInfo, createServer, type Socket } from 'node:net'
import { type TestContext, test } from 'node:test'
import { type Rng, seededRng } from '@rbee/testing'
import fc from 'fast-check'
import { Http1ResponseParser } from './http1-response-parser.js'

// The queen's HTTP/1.1 response parser against llhttp (node:http's client parser) on generated
// responses and on mutations of them: both must read the same status, headers and body, or both
// must fail. Seeded, bounded in cases and time.

/** What a parser made of one response's bytes, the connection closing after them. */
interface Outcome {
  status?: number
  headers?: Record<string, string>
  body: string
  /** The response was read whole (false: an error, or still incomplete at the close). */
  ok: boolean
}

/** A generated response: its bytes, and the pieces it is written/fed in. */
interface Case {
  wire: string
  pieces: number[]
  mutation?: string
}

const TOKEN_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!#$%&*+^`|~'
const VALUE_CHARS = `${TOKEN_CHARS} ,;:=/"()?@[]{}\t`

function word(rng: Rng, chars: string, min: number, max: number): string {
  let s = ''
  for (let n = rng.int(min, max); n > 0; n--) s += chars[rng.int(0, chars.length - 1)]
  return s
}

function body(rng: Rng): string {
  return rng.bool(0.3) ? `data: {"t":"${word(rng, TOKEN_CHARS, 0, 20)}"}\n\n` : word(rng, VALUE_CHARS, 0, 300)
}

/** A well-formed response the way a worker (or something else on its port) might send it. */
function response(rng: Rng): string {
  const status = rng.pick([200, 200, 200, 201, 204, 301, 304, 400, 404, 429, 500, 502, 503, 599])
  const reason = rng.pick(['OK', '', 'Whatever It Says', 'x'])
  let head = `HTTP/1.${rng.bool(0.85) ? 1 : 0} ${status}${reason || rng.bool() ? ` ${reason}` : ''}\r\n`
  for (let n = rng.int(0, 5); n > 0; n--) {
    const name = rng.bool(0.3) ? rng.pick(['X-Dup', 'x-dup', 'Content-Type']) : word(rng, TOKEN_CHARS, 1, 12)
    if (/^(content-length|transfer-encoding|connection)$/i.test(name)) continue
    const value = word(rng, VALUE_CHARS, 0, 30).trim()
    head += `${name}:${rng.pick(['', ' ', '  ', '\t'])}${value}${rng.pick(['', ' '])}\r\n`
  }
  if (rng.bool(0.2)) head += `Connection: ${rng.pick(['close', 'keep-alive', 'Keep-Alive'])}\r\n`
  const framing = rng.pick(['length', 'chunked', 'chunked', 'close'])
  if (status === 204 || status === 304)
    return `${head}${framing === 'length' ? 'Content-Length: 0\r\n' : ''}\r\n`
  if (framing === 'length') {
    const b = body(rng)
    return `${head}${rng.pick(['Content-Length', 'content-length'])}: ${Buffer.byteLength(b, 'latin1')}\r\n\r\n${b}`
  }
  if (framing === 'close') return `${head}\r\n${body(rng)}`
  let wire = `${head}${rng.pick(['Transfer-Encoding', 'transfer-encoding'])}: ${rng.pick(['chunked', 'Chunked'])}\r\n\r\n`
  for (let n = rng.int(0, 4); n > 0; n--) {
    const b = body(rng) || 'x'
    const size = Buffer.byteLength(b, 'latin1').toString(16)
    wire += `${rng.bool(0.2) ? size.toUpperCase() : size}${rng.bool(0.1) ? ';ext=1' : ''}\r\n${b}\r\n`
  }
  wire += '0\r\n'
  if (rng.bool(0.1)) wire += 'X-Trailer: 1\r\n'
  return `${wire}\r\n`
}

/** One small damage at a random place: a byte changed, dropped or added, or the bytes cut short. */
function mutate(rng: Rng, wire: string): [string, string] {
  const at = rng.int(0, Math.max(0, wire.length - 1))
  const byte = rng.pick(['\r', '\n', ':', ' ', '0', 'f', 'z', ';', '\x00', '\x7f', 'H', '1'])
  switch (rng.int(0, 3)) {
    case 0:
      return [`${wire.slice(0, at)}${byte}${wire.slice(at + 1)}`, `byte ${at} -> ${JSON.stringify(byte)}`]
    case 1:
      return [`${wire.slice(0, at)}${wire.slice(at + 1)}`, `byte ${at} dropped`]
    case 2:
      return [`${wire.slice(0, at)}${byte}${wire.slice(at)}`, `${JSON.stringify(byte)} added at ${at}`]
    default:
      return [wire.slice(0, at), `cut at ${at}`]
  }
}

function generate(rng: Rng, index: number): Case {
  let wire = response(rng)
  let mutation: string | undefined
  if (index % 2 === 1) [wire, mutation] = mutate(rng, wire)
  const pieces: number[] = []
  for (let n = rng.int(0, 3); n > 0; n--) pieces.push(rng.int(0, wire.length))
  pieces.sort((a, b) => a - b)
  return mutation === undefined ? { wire, pieces } : { wire, pieces, mutation }
}

/** The queen's parser on the case's bytes, fed in its pieces, then the connection's end. */
function ours(c: Case): Outcome {
  const out: Outcome = { body: '', ok: false }
  const bytes = Buffer.from(c.wire, 'latin1')
  const parser = new Http1ResponseParser({
    onHead: (h) => {
      out.status = h.status
      out.headers = h.headers
    },
    onBody: (b) => {
      out.body += b.toString('latin1')
    },
    onComplete: () => {
      out.ok = true
    },
  })
  try {
    let from = 0
    for (const at of [...c.pieces, bytes.length]) {
      // A connection carries one answer: what follows a complete one is not read.
      if (!parser.done && at > from) parser.feed(bytes.subarray(from, at))
      from = at
    }
    parser.end()
  } catch {
    out.ok = false
  }
  return out
}

/**
 * A server that answers each connection's request with the next case's bytes, in its pieces,
 * and closes; `theirs` reads that answer with node:http (llhttp).
 */
async function llhttpPeer(t: TestContext) {
  const queue: Case[] = []
  const server = createServer((socket: Socket) => {
    socket.on('error', () => {})
    socket.once('data', () => {
      const c = queue.shift()!
      const bytes = Buffer.from(c.wire, 'latin1')
      let from = 0
      for (const at of [...c.pieces, bytes.length]) {
        if (at > from) socket.write(bytes.subarray(from, at))
        from = at
      }
      socket.end()
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => server.close())
  const { port } = server.address() as AddressInfo
  return (c: Case): Promise<Outcome> =>
    new Promise((resolve) => {
      queue.push(c)
      const out: Outcome = { body: '', ok: false }
      const done = (): void => resolve(out)
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/', agent: false }, (res) => {
        out.status = res.statusCode!
        const headers: Record<string, string> = {}
        for (let i = 0; i < res.rawHeaders.length; i += 2) {
          const name = res.rawHeaders[i]!.toLowerCase()
          const value = res.rawHeaders[i + 1]!
          headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`
        }
        out.headers = headers
        res.setEncoding('latin1')
        res.on('data', (d: string) => {
          out.body += d
        })
        res.on('end', () => {
          out.ok = !res.aborted && res.complete
          done()
        })
        res.on('error', done)
      })
      req.on('error', done)
      req.end('{}')
    })
}

/**
 * Where the queen's parser is stricter than llhttp on purpose (no worker sends these; they are
 * refused rather than guessed at): an interim or upgrade (1xx) answer, bytes before the status
 * line, and a CR not followed by LF in the status line (llhttp takes CR CR as a line end).
 */
const STRICTER: [RegExp, string][] = [
  [/^HTTP\/1\.[01] [01]\d\d/, 'status below 200'],
  [/^[^H]/, 'bytes before the status line'],
  [/^[^\n]*\r[^\n]/, 'bare CR in the status line'],
]

test('the response parser reads what llhttp reads, and fails where llhttp fails, on generated and damaged responses', {
  timeout: 60_000,
}, async (t) => {
  const theirs = await llhttpPeer(t)
  // fast-check runs the cases and reports (and shrinks toward) the smallest failing one; each case
  // is a whole response, or a damaged one, made from its own seed by the generator above.
  const cases = fc
    .tuple(fc.integer({ min: 1, max: 0x7fffffff }), fc.boolean())
    .map(([seed, damaged]) => generate(seededRng(seed), damaged ? 1 : 0))
  let ran = 0
  await fc.assert(
    fc.asyncProperty(cases, async (c) => {
      ran++
      const a = ours(c)
      const b = await theirs(c)
      const stricter = STRICTER.find(([re]) => re.test(c.wire))
      if (stricter && !a.ok) return
      assert.equal(a.ok, b.ok, `ours ${a.ok ? 'read' : 'refused'} it, llhttp ${b.ok ? 'read' : 'refused'} it`)
      if (!a.ok) return
      assert.deepEqual(a, b)
    }),
    { seed: 18, numRuns: 600, interruptAfterTimeLimit: 20_000, markInterruptAsFailure: false },
  )
  assert.ok(ran >= 100, `only ${ran} cases ran`)
})
