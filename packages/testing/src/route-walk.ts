import { request } from 'node:http'

/** Who may call a route (as `@rbee/common` declares it). */
export type RouteAccessName = 'public' | 'user' | 'admin' | 'node'

/** A route a daemon serves and who may call it. */
export interface WalkedRoute {
  method: string
  url: string
  access: RouteAccessName
}

/** A credential the walk presents: its `Authorization` header (none when undefined) and the doors it opens. */
export interface WalkCredential {
  name: string
  authorization?: string
  /** Its `x-api-key` header (Anthropic's way to send a key), if any. */
  apiKey?: string
  /** Whether this credential may call a route of the given access on this daemon. */
  opens: (access: RouteAccessName) => boolean
}

/** A daemon's routes as `{ 'GET /v1/info': 'user', … }` (HEAD routes, which follow their GET, left out). */
export function routeTable(routes: readonly WalkedRoute[]): Record<string, RouteAccessName> {
  return Object.fromEntries(
    routes.filter((r) => r.method !== 'HEAD').map((r) => [`${r.method} ${r.url}`, r.access]),
  )
}

/** The credentials to walk a hive or worker with: none, an API key, and its node token (which opens every door). */
export function nodeDaemonCredentials(nodeToken: string): WalkCredential[] {
  return [
    { name: 'none', opens: (a) => a === 'public' },
    { name: 'an API key', authorization: 'Bearer sk-user-0123456789', opens: (a) => a === 'public' },
    { name: 'node token', authorization: `Bearer ${nodeToken}`, opens: () => true },
  ]
}

/** One call that got past a door it should not have, or was refused at a door it should open. */
export interface WalkViolation {
  method: string
  path: string
  route: string
  access: RouteAccessName
  credential: string
  status: number
  problem: string
}

/**
 * Spellings of a path that a router might take for the same route and an access check on the
 * raw text might not: one letter and every letter percent-encoded (both cases of hex), a
 * doubled slash, dot segments, another case, a trailing slash, a query string.
 */
export function pathVariants(path: string): string[] {
  const segments = path.split('/').slice(1)
  const hex = (c: string, upper: boolean): string => {
    const h = c.charCodeAt(0).toString(16)
    return `%${upper ? h.toUpperCase() : h}`
  }
  const encodeOne = (s: string, upper: boolean): string => {
    const i = s.search(/[A-Za-z-]/)
    return i < 0 ? s : `${s.slice(0, i)}${hex(s[i]!, upper)}${s.slice(i + 1)}`
  }
  const last = segments.length - 1
  const join = (segs: string[]): string => `/${segs.join('/')}`
  const variants = [
    path,
    join(segments.map((s, i) => (i === last ? encodeOne(s, false) : s))),
    join(segments.map((s, i) => (i === last ? encodeOne(s, true) : s))),
    join(segments.map((s) => (s.startsWith(':') ? s : [...s].map((c) => hex(c, false)).join('')))),
    // every dash, the separator a raw check is most likely to compare literally
    path.replaceAll('-', '%2d'),
    `/${path}`,
    segments.length > 1 ? join([segments[0]!, '', ...segments.slice(1)]) : `${path}//`,
    join([segments[0]!, '.', ...segments.slice(1)]),
    join(['x', '..', ...segments]),
    path.toUpperCase(),
    `${path}/`,
    `${path}?x=1`,
  ]
  return [...new Set(variants)]
}

interface Answer {
  status: number
  code: string | undefined
}

/** One raw HTTP/1.1 request with the path exactly as given (no client normalises it). */
function call(base: URL, method: string, path: string, cred: WalkCredential): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body = method === 'POST' || method === 'PUT' || method === 'PATCH' ? '{}' : undefined
    const req = request(
      {
        host: base.hostname,
        port: base.port,
        method,
        path,
        headers: {
          ...(cred.authorization ? { authorization: cred.authorization } : {}),
          ...(cred.apiKey ? { 'x-api-key': cred.apiKey } : {}),
          ...(body ? { 'content-type': 'application/json', 'content-length': String(body.length) } : {}),
        },
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (c: Buffer) => {
          // Streams (SSE) never end on their own: the status and the first bytes are enough.
          if (size < 4096) chunks.push(c)
          size += c.length
          if (size >= 4096 || res.headers['content-type']?.includes('text/event-stream')) req.destroy()
        })
        const done = (): void => {
          let code: string | undefined
          try {
            code = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { error?: { code?: string } }).error
              ?.code
          } catch {
            code = undefined
          }
          resolve({ status: res.statusCode ?? 0, code })
        }
        res.on('end', done)
        res.on('close', done)
      },
    )
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 10 s`)))
    req.on('error', (err) => {
      if (req.destroyed && err.message === 'socket hang up') return
      reject(err)
    })
    if (body) req.write(body)
    req.end()
  })
}

/**
 * Calls every route of a daemon in every spelling of `pathVariants` with every credential, and
 * lists the calls whose outcome breaks the route's declared access: a credential that may not
 * call the route got past the door (any answer but 401, 403 or the 404 of no route), or one
 * that may call it was refused on the route's own spelling. `:params` are filled from `params`
 * (default: a made-up id); routes in `skip` are not called (give the reason in the test).
 */
export async function walkRoutes(options: {
  baseUrl: string
  routes: readonly WalkedRoute[]
  credentials: readonly WalkCredential[]
  params?: Record<string, string>
  skip?: (route: WalkedRoute) => boolean
}): Promise<WalkViolation[]> {
  const base = new URL(options.baseUrl)
  const violations: WalkViolation[] = []
  for (const route of options.routes) {
    if (route.method === 'HEAD' || options.skip?.(route)) continue
    const filled = route.url.replace(
      /:(\w+)/g,
      (_, name: string) => options.params?.[name] ?? 'no-such-id-0000',
    )
    for (const path of pathVariants(filled)) {
      for (const cred of options.credentials) {
        const answer = await call(base, route.method, path, cred)
        const refused = answer.status === 401 || answer.status === 403
        const unrouted = answer.status === 404 && answer.code === 'RBEE_NOT_FOUND'
        const allowed = cred.opens(route.access)
        const v = {
          method: route.method,
          path,
          route: route.url,
          access: route.access,
          credential: cred.name,
        }
        if (!allowed && !refused && !unrouted) {
          violations.push({ ...v, status: answer.status, problem: 'got past a door it may not open' })
        } else if (allowed && refused && path === filled) {
          violations.push({ ...v, status: answer.status, problem: 'was refused at a door it may open' })
        }
      }
    }
  }
  return violations
}
