import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

const digest = (s: string): Buffer => createHash('sha256').update(s).digest()

/** The token of an `Authorization: Bearer …` header, or undefined. */
function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined
  const m = /^Bearer\s+(.+)$/i.exec(header.trim())
  return m?.[1] || undefined
}

/**
 * Checks an `Authorization: Bearer …` header against accepted tokens in constant time
 * (comparing fixed-length digests, so neither content nor length leaks through timing).
 */
export function bearerMatches(header: string | undefined, tokens: readonly string[]): boolean {
  const token = bearerToken(header)
  return token !== undefined && matchesAny(digest(token), tokens.map(digest))
}

function matchesAny(given: Buffer, accepted: readonly Buffer[]): boolean {
  let ok = false
  for (const t of accepted) ok = timingSafeEqual(given, t) || ok
  return ok
}

/** True for addresses that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '')
  return h === 'localhost' || h === '::1' || h.startsWith('127.') || h === '::ffff:127.0.0.1'
}

/**
 * Who may call a route: anyone (`public`), a user or admin key (`user`), an admin key (`admin`),
 * or the node token that queen, hives and workers share (`node`).
 */
export type Access = 'public' | 'user' | 'admin' | 'node'

/** What a request's credential makes its caller. */
export type Role = 'anonymous' | 'user' | 'admin' | 'node'

/** The caller of a request, as its credential identifies it. */
export interface Caller {
  role: Role
  /**
   * A short, stable fingerprint of the credential presented (`key:3f2a…`), for logs, the audit
   * log and job ownership; never the secret. `null` when none was presented.
   */
  key: string | null
}

/** The credentials a daemon accepts. Empty lists (and no node token) leave that door open. */
export interface Credentials {
  userKeys?: readonly string[]
  adminKeys?: readonly string[]
  nodeToken?: string | undefined
}

/** Why a call is refused: no valid credential for the route (401), or one with too little right (403). */
export type Refusal = 'unauthenticated' | 'forbidden'

/** A credential's fingerprint: the first 12 hex digits of its SHA-256, never the secret. */
export function keyFingerprint(secret: string): string {
  return `key:${createHash('sha256').update(secret).digest('hex').slice(0, 12)}`
}

/** A fresh node token (256 random bits, URL-safe). */
export function generateNodeToken(): string {
  return randomBytes(32).toString('base64url')
}

/**
 * Decides who a request's bearer credential is and whether it may call a route of a given
 * access. Comparisons are constant-time. Keys and the node token each open only their own doors:
 * the node token is no API key, an API key never opens a node route, and a user key never
 * opens an admin route. `update` swaps the credentials in place (a reload), so every server and
 * lane holding this authenticator applies the new ones from the next request on.
 */
export class Authenticator {
  #user: Buffer[] = []
  #admin: Buffer[] = []
  #node: Buffer[] = []

  constructor(c: Credentials = {}) {
    this.update(c)
  }

  /** Replaces every accepted credential at once. */
  update(c: Credentials): void {
    this.#user = (c.userKeys ?? []).map(digest)
    this.#admin = (c.adminKeys ?? []).map(digest)
    this.#node = c.nodeToken ? [digest(c.nodeToken)] : []
  }

  /** Whether clients need a key (user or admin) at all. */
  get keysRequired(): boolean {
    return this.#user.length > 0 || this.#admin.length > 0
  }

  /** Whether node routes need the node token. */
  get nodeTokenRequired(): boolean {
    return this.#node.length > 0
  }

  /** Whether any admin key is configured (when keys are required, admin routes need one). */
  get hasAdminKeys(): boolean {
    return this.#admin.length > 0
  }

  /**
   * The caller a request's credential names: the token of its `Authorization: Bearer` header, or
   * else its `x-api-key` header (Anthropic's, which Anthropic clients send).
   */
  identify(authorization: string | undefined, apiKey?: string | string[]): Caller {
    const token =
      bearerToken(authorization) ?? (typeof apiKey === 'string' ? apiKey.trim() || undefined : undefined)
    if (token === undefined) return { role: 'anonymous', key: null }
    const d = digest(token)
    // All three are compared every time, so timing says nothing about which list matched.
    const node = matchesAny(d, this.#node)
    const admin = matchesAny(d, this.#admin)
    const user = matchesAny(d, this.#user)
    const role: Role = node ? 'node' : admin ? 'admin' : user ? 'user' : 'anonymous'
    return { role, key: keyFingerprint(token) }
  }

  /**
   * Whether `caller` may call a route of `access`: undefined when it may, else why not.
   * With no keys configured, user and admin routes are open (loopback only, enforced by the
   * daemons); with no node token, node routes are.
   */
  refusal(access: Access, caller: Caller): Refusal | undefined {
    switch (access) {
      case 'public':
        return undefined
      case 'node':
        return !this.nodeTokenRequired || caller.role === 'node' ? undefined : 'unauthenticated'
      case 'user':
        if (!this.keysRequired || caller.role === 'user' || caller.role === 'admin') return undefined
        return 'unauthenticated'
      case 'admin':
        if (!this.keysRequired || caller.role === 'admin') return undefined
        return caller.role === 'user' ? 'forbidden' : 'unauthenticated'
    }
  }

  /** Whether `caller` may see every job and full error details (an admin, or anyone when keys are off). */
  isAdmin(caller: Caller): boolean {
    return !this.keysRequired || caller.role === 'admin'
  }
}
