import { createHash, timingSafeEqual } from 'node:crypto'

const digest = (s: string): Buffer => createHash('sha256').update(s).digest()

/**
 * Checks an `Authorization: Bearer …` header against accepted tokens in constant time
 * (comparing fixed-length digests, so neither content nor length leaks through timing).
 */
export function bearerMatches(header: string | undefined, tokens: readonly string[]): boolean {
  if (!header) return false
  const m = /^Bearer\s+(.+)$/i.exec(header.trim())
  if (!m?.[1]) return false
  const given = digest(m[1])
  let ok = false
  for (const t of tokens) ok = timingSafeEqual(given, digest(t)) || ok
  return ok
}

/** True for addresses that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '')
  return h === 'localhost' || h === '::1' || h.startsWith('127.') || h === '::ffff:127.0.0.1'
}
