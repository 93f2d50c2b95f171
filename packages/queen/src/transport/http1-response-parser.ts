import { RbeeError } from '@rbee/common'

/** Status line and headers of an HTTP/1.1 response (header names lower-cased). */
export interface ResponseHead {
  status: number
  headers: Record<string, string>
}

export interface ResponseHandlers {
  onHead(head: ResponseHead): void
  /**
   * A piece of the body, transfer framing removed; after `passThrough()`, the chunked body's
   * bytes as they came instead.
   */
  onBody(payload: Buffer): void
  /** The whole response has arrived; `keepAlive` says the connection can carry another. */
  onComplete(keepAlive: boolean): void
}

const CRLF = Buffer.from('\r\n')
const HEAD_END = Buffer.from('\r\n\r\n')
const EMPTY = Buffer.alloc(0)
/** A response head longer than this is refused (workers send a few hundred bytes). */
const MAX_HEAD = 64 * 1024
/** A chunk-size line longer than this is refused. */
const MAX_SIZE_LINE = 1024

/** A character of an RFC 9110 `token` (a header name, a chunk extension's name). */
const TCHAR = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]"
/** A header name. */
const TOKEN = new RegExp(`^${TCHAR}+$`)
/** A chunk extension's value: a token (llhttp takes an empty one) or a quoted string. */
const EXT_VALUE = `(?:${TCHAR}*|"(?:[^"\\\\\\r\\n]|\\\\.)*")`
/** Chunk extensions as llhttp takes them: `;name` or `;name=value`, the last name not empty. */
const CHUNK_EXTENSIONS = new RegExp(`^(?:;${TCHAR}*(?:=${EXT_VALUE})?)*;${TCHAR}+(?:=${EXT_VALUE})?$`)
/** Bytes no header line may hold (HTAB aside). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/

type State = 'head' | 'length' | 'size' | 'data' | 'data-end' | 'trailer' | 'close' | 'done'

function protocolError(why: string): RbeeError {
  return new RbeeError('RBEE_UPSTREAM', `malformed HTTP response from worker: ${why}`)
}

/** A hex digit's value, or -1. */
function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48
  if (c >= 97 && c <= 102) return c - 87
  if (c >= 65 && c <= 70) return c - 55
  return -1
}

/**
 * Where the colon of a header (or trailer) line is. As llhttp: the name is a token (no blank
 * before the colon), the value holds no control bytes.
 * @throws RbeeError `RBEE_UPSTREAM` otherwise.
 */
function headerColon(line: string): number {
  const colon = line.indexOf(':')
  if (colon <= 0 || !TOKEN.test(line.slice(0, colon)) || CONTROL.test(line)) {
    throw protocolError(`bad header line ${JSON.stringify(line.slice(0, 80))}`)
  }
  return colon
}

/** The CRLF that must end a chunk's data, at `at`. @throws RbeeError `RBEE_UPSTREAM` otherwise. */
function expectChunkEnd(buf: Buffer, at: number): void {
  if (buf[at] !== 13 || buf[at + 1] !== 10) throw protocolError('chunk not followed by CRLF')
}

/**
 * The size on a chunk-size line (`buf[from..eol)`): 1–12 hex digits and nothing else but
 * well-formed extensions after `;` (ignored); no blanks, as llhttp. Read from the bytes: it runs once per token.
 * @throws RbeeError `RBEE_UPSTREAM` for anything else.
 */
function chunkSize(buf: Buffer, from: number, eol: number): number {
  let i = from
  let size = 0
  let digits = 0
  for (let d = hexDigit(buf[i] ?? -1); i < eol && d >= 0; d = hexDigit(buf[++i] ?? -1)) {
    size = size * 16 + d
    digits++
  }
  if (
    digits === 0 ||
    digits > 12 ||
    (i < eol && (buf[i] !== 0x3b || !CHUNK_EXTENSIONS.test(buf.toString('latin1', i, eol))))
  ) {
    throw protocolError(`bad chunk size ${JSON.stringify(buf.toString('latin1', from, eol))}`)
  }
  return size
}

/**
 * Reads one HTTP/1.1 response from the bytes of a connection, as they come: the head, then the
 * body by `Content-Length`, chunked transfer coding, or (neither) up to the connection's end.
 * What it accepts and refuses is llhttp's (property-tested against node:http's parser).
 * It is what the queen needs of a worker's answer and nothing more: no 1xx, no pipelining.
 */
export class Http1ResponseParser {
  readonly #h: ResponseHandlers
  #state: State = 'head'
  #buf: Buffer = EMPTY
  #left = 0
  #keepAlive = true
  /** The chunked body is passed on as it came (see `passThrough`). */
  #raw = false
  /** Bytes to put before the first bytes passed on (a size line for the rest of a chunk). */
  #rawPrefix: Buffer | undefined
  /** The CRLF that ends a chunk already passed on decoded is still to come: drop it. */
  #dropCrlf = false

  constructor(handlers: ResponseHandlers) {
    this.#h = handlers
  }

  get done(): boolean {
    return this.#state === 'done'
  }

  /**
   * From now on, hands a chunked body to `onBody` in its chunked coding, as it came (the rest
   * of a chunk under way gets a size line of its own; the last chunk and trailer are not
   * passed): a proxy writing chunked coding itself relays the bytes without decoding and
   * re-framing each piece. Chunks are still followed and checked. False, and nothing changes,
   * when the body is not chunked.
   */
  passThrough(): boolean {
    if (this.#raw) return true
    if (this.#state !== 'size' && this.#state !== 'data' && this.#state !== 'data-end') return false
    this.#raw = true
    if (this.#state === 'data') this.#rawPrefix = Buffer.from(`${this.#left.toString(16)}\r\n`, 'latin1')
    else if (this.#state === 'data-end') this.#dropCrlf = true
    return true
  }

  /** Feeds bytes read from the connection. @throws RbeeError `RBEE_UPSTREAM` on malformed input. */
  feed(data: Buffer): void {
    if (this.#state === 'done') throw protocolError('bytes after the end of the response')
    this.#buf = this.#buf.length > 0 ? Buffer.concat([this.#buf, data]) : data
    while (this.#step()) {}
  }

  /**
   * The connection ended. Completes a body that runs to the end of the connection.
   * @throws RbeeError `RBEE_UPSTREAM` when the response is incomplete.
   */
  end(): void {
    if (this.#state === 'done') return
    if (this.#state === 'close') {
      this.#state = 'done'
      this.#h.onComplete(false)
      return
    }
    throw protocolError(
      this.#state === 'head' ? 'connection closed before a response' : 'connection closed mid-body',
    )
  }

  /**
   * Where `mark` starts in the buffered bytes, or -1 while more are needed.
   * @throws RbeeError `RBEE_UPSTREAM` when `max` bytes came without it (`what` too long).
   */
  #find(mark: Buffer, max: number, what: string): number {
    const at = this.#buf.indexOf(mark)
    if (at < 0 && this.#buf.length > max) throw protocolError(`${what} too long`)
    return at
  }

  /**
   * In pass-through, the bytes the chunk handed on last still owes its reader (the rest of its
   * data, then CRLF) when the worker's answer stops in the middle of it; 0 at a chunk boundary.
   */
  get owedChunkBytes(): number {
    // Nothing of a chunk under way has been handed on raw yet: the reader is at a boundary.
    if (!this.#raw || this.#rawPrefix || this.#dropCrlf) return 0
    if (this.#state === 'data') return this.#left + 2
    return this.#state === 'data-end' ? 2 : 0
  }

  /** Makes one step of progress; false when it needs more bytes. */
  #step(): boolean {
    const buf = this.#buf
    if (this.#raw && (this.#state === 'size' || this.#state === 'data' || this.#state === 'data-end')) {
      return this.#stepRaw()
    }
    switch (this.#state) {
      case 'head': {
        const end = this.#find(HEAD_END, MAX_HEAD, 'head')
        if (end < 0) return false
        this.#buf = buf.subarray(end + 4)
        this.#head(buf.subarray(0, end).toString('latin1'))
        return (this.#state as State) !== 'done'
      }
      case 'length':
      case 'data': {
        if (buf.length === 0) return false
        const take = Math.min(this.#left, buf.length)
        const payload = buf.subarray(0, take)
        this.#buf = buf.subarray(take)
        this.#left -= take
        if (this.#left === 0) {
          if (this.#state === 'length') this.#state = 'done'
          else this.#state = 'data-end'
        }
        this.#h.onBody(payload)
        if ((this.#state as State) === 'done') this.#complete()
        return (this.#state as State) !== 'done'
      }
      case 'data-end': {
        if (buf.length < 2) return false
        expectChunkEnd(buf, 0)
        this.#buf = buf.subarray(2)
        this.#state = 'size'
        return true
      }
      case 'size': {
        const eol = this.#find(CRLF, MAX_SIZE_LINE, 'chunk size line')
        if (eol < 0) return false
        this.#left = chunkSize(buf, 0, eol)
        this.#buf = buf.subarray(eol + 2)
        this.#state = this.#left === 0 ? 'trailer' : 'data'
        return true
      }
      case 'trailer': {
        const eol = this.#find(CRLF, MAX_HEAD, 'trailer')
        if (eol < 0) return false
        if (eol > 0) headerColon(buf.toString('latin1', 0, eol))
        this.#buf = buf.subarray(eol + 2)
        if (eol === 0) {
          this.#state = 'done'
          this.#complete()
          return false
        }
        return true
      }
      case 'close': {
        if (buf.length === 0) return false
        this.#buf = EMPTY
        this.#h.onBody(buf)
        return false
      }
      case 'done':
        return false
    }
  }

  /**
   * Pass-through: follows the chunks in the buffered bytes without copying them and hands on
   * every byte up to the last chunk, or up to where more bytes are needed; true when the last
   * chunk was reached (its trailer is read as ever).
   */
  #stepRaw(): boolean {
    let buf = this.#buf
    if (this.#dropCrlf) {
      if (buf.length < 2) return false
      expectChunkEnd(buf, 0)
      buf = buf.subarray(2)
      this.#dropCrlf = false
      this.#state = 'size'
    }
    let pos = 0
    /** Where the trailer starts, once the last chunk's size line was read. */
    let trailer = -1
    for (;;) {
      if (this.#state === 'data') {
        const take = Math.min(this.#left, buf.length - pos)
        pos += take
        this.#left -= take
        if (this.#left > 0) break
        this.#state = 'data-end'
      }
      if (this.#state === 'data-end') {
        if (buf.length - pos < 2) break
        expectChunkEnd(buf, pos)
        pos += 2
        this.#state = 'size'
      }
      const eol = buf.indexOf(CRLF, pos)
      if (eol < 0) {
        if (buf.length - pos > MAX_SIZE_LINE) throw protocolError('chunk size line too long')
        break
      }
      const size = chunkSize(buf, pos, eol)
      if (size === 0) {
        this.#state = 'trailer'
        trailer = eol + 2
        break
      }
      this.#left = size
      this.#state = 'data'
      pos = eol + 2
    }
    // After the last chunk's size line comes its trailer; otherwise keep what is not passed yet.
    this.#buf = buf.subarray(trailer >= 0 ? trailer : pos)
    if (pos > 0) {
      const prefix = this.#rawPrefix
      this.#rawPrefix = undefined
      this.#h.onBody(prefix ? Buffer.concat([prefix, buf.subarray(0, pos)]) : buf.subarray(0, pos))
    }
    return trailer >= 0
  }

  #head(text: string): void {
    const lines = text.split('\r\n')
    const m = /^HTTP\/1\.([01]) (\d{3})(?: |$)/.exec(lines[0] ?? '')
    // llhttp takes any byte in the reason phrase but CR and LF.
    if (!m || /[\r\n]/.test(lines[0]!))
      throw protocolError(`bad status line ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`)
    const status = Number(m[2])
    if (status < 200) throw protocolError(`unexpected ${status} response`)
    const headers: Record<string, string> = {}
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!
      const colon = headerColon(line)
      const name = line.slice(0, colon).toLowerCase()
      const value = line.slice(colon + 1).trim()
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`
    }
    const connection = (headers.connection ?? '').toLowerCase()
    this.#keepAlive = m[1] === '1' ? !connection.includes('close') : connection.includes('keep-alive')
    this.#h.onHead({ status, headers })
    const te = headers['transfer-encoding']
    const cl = headers['content-length']
    // Checked whatever the status, as llhttp does.
    if (cl !== undefined && !/^\d{1,15}$/.test(cl))
      throw protocolError(`bad content-length ${JSON.stringify(cl)}`)
    if (te !== undefined && cl !== undefined) throw protocolError('both transfer-encoding and content-length')
    if (status === 204 || status === 304) {
      this.#state = 'done'
    } else if (te !== undefined) {
      // A response whose last coding is not chunked runs to the connection's end (RFC 9112 6.3).
      if (te.split(',').at(-1)!.trim().toLowerCase() === 'chunked') {
        this.#state = 'size'
      } else {
        this.#keepAlive = false
        this.#state = 'close'
      }
    } else if (cl !== undefined) {
      this.#left = Number(cl)
      this.#state = this.#left === 0 ? 'done' : 'length'
    } else {
      this.#keepAlive = false
      this.#state = 'close'
    }
    if (this.#state === 'done') this.#complete()
  }

  #complete(): void {
    // Bytes beyond the response on a connection that carries one request at a time: not reusable.
    this.#h.onComplete(this.#keepAlive && this.#buf.length === 0)
  }
}
