/** A request head the fast lane can serve: HTTP/1.1, a body of known length, nothing unusual. */
export interface RequestHead {
  method: string
  path: string
  /** Lower-cased names; each appears once. */
  headers: Record<string, string>
  contentLength: number
  /** The client asked for the connection to close after this answer. */
  close: boolean
}

const REQUEST_LINE = /^([A-Z]+) (\/[!-~]*) HTTP\/1\.1$/
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
// Visible ASCII, spaces and tabs: what the fast lane passes on. Anything else goes to node:http,
// whose strict parser answers it.
const VALUE = /^[\t\x20-\x7e]*$/
/** Headers that change how a request is framed or answered: such requests go to node:http. */
const FRAMING = new Set(['transfer-encoding', 'expect', 'upgrade', 'te', 'trailer'])

/**
 * Parses a request head (the bytes before the blank line) for the fast lane. Returns undefined
 * for anything it does not take: another HTTP version, a body without a single Content-Length,
 * chunked or `Expect` requests, repeated headers, bytes a strict parser would refuse. Those
 * requests are handed to node:http, which answers them as it always does.
 */
export function parseRequestHead(text: string): RequestHead | undefined {
  const lines = text.split('\r\n')
  const m = REQUEST_LINE.exec(lines[0] ?? '')
  if (!m) return undefined
  const headers: Record<string, string> = {}
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!
    const colon = line.indexOf(':')
    if (colon <= 0) return undefined
    const name = line.slice(0, colon).toLowerCase()
    if (!TOKEN.test(name) || FRAMING.has(name) || headers[name] !== undefined) return undefined
    const value = line.slice(colon + 1).trim()
    if (!VALUE.test(value)) return undefined
    headers[name] = value
  }
  const cl = headers['content-length']
  if (cl === undefined || !/^\d{1,12}$/.test(cl)) return undefined
  const connection = (headers.connection ?? '').toLowerCase()
  return {
    method: m[1]!,
    path: m[2]!,
    headers,
    contentLength: Number(cl),
    close: connection.split(',').some((t) => t.trim() === 'close'),
  }
}
