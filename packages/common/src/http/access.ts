import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { AuditLog } from '../audit-log.js'
import type { Access, Authenticator, Caller, Refusal } from '../auth.js'
import { RbeeError } from '../errors.js'
import type { ErrorShape } from './error-handler.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route; every route must say (registration fails otherwise). */
    access?: Access
    /** The shape the route answers errors in, when not its server's default. */
    errorShape?: ErrorShape
  }
  interface FastifyRequest {
    /** Who the request's credential makes its caller (set before any route runs). */
    caller: Caller
  }
}

const ANONYMOUS: Caller = { role: 'anonymous', key: null }

/** The request's caller; anonymous when the request failed before the access hook ran (a bad URL). */
export function callerOf(req: FastifyRequest): Caller {
  return (req.caller as Caller | null) ?? ANONYMOUS
}

/** Route options that declare who may call a route: `app.get('/v1/info', ROUTE_ACCESS.user, handler)`. */
export const ROUTE_ACCESS: Readonly<Record<Access, { readonly config: { readonly access: Access } }>> = {
  public: { config: { access: 'public' } },
  user: { config: { access: 'user' } },
  admin: { config: { access: 'admin' } },
  node: { config: { access: 'node' } },
}

/**
 * Route options that declare who may call a route and the API whose error shape it answers in:
 * `app.post('/api/embed', routeConfig('user', 'ollama'), handler)`.
 */
export function routeConfig(
  access: Access,
  errorShape: ErrorShape,
): { readonly config: { readonly access: Access; readonly errorShape: ErrorShape } } {
  return { config: { access, errorShape } }
}

/** The 401 or 403 for a refused call, with a message that says which credential is wanted. */
export function refusalError(refusal: Refusal, access: Access, auth: Authenticator): RbeeError {
  if (refusal === 'forbidden') {
    return new RbeeError(
      'RBEE_FORBIDDEN',
      auth.hasAdminKeys
        ? 'this needs an admin key; the key given is a user key'
        : 'this needs an admin key, and none is configured: start the queen with --admin-key (RBEE_ADMIN_KEYS)',
    )
  }
  const wanted = access === 'node' ? 'the node token' : access === 'admin' ? 'an admin key' : 'an API key'
  return new RbeeError(
    'RBEE_UNAUTHORIZED',
    `missing or wrong credential: this needs ${wanted} (Authorization: Bearer …, or x-api-key: …)`,
  )
}

/** The audit fields that describe a request (never its credential, only the fingerprint). */
export function requestAuditFields(req: FastifyRequest): Record<string, string | null> {
  return {
    key: req.caller.key,
    ip: req.ip,
    method: req.method,
    path: req.url.split('?')[0]?.slice(0, 512) ?? '',
    route: req.routeOptions.url ?? null,
  }
}

/** A registered route and who may call it. */
export interface DeclaredRoute {
  method: string
  url: string
  access: Access
}

export interface AccessOptions {
  auth: Authenticator
  audit?: AuditLog | undefined
  /** Sends a refusal in the route's error shape. */
  refuse: (req: FastifyRequest, reply: FastifyReply, e: RbeeError) => unknown
}

/**
 * Access as part of the route: every route declares `config.access` (a route without one cannot
 * be registered), and each request is checked against the access of the route the router
 * matched (after percent-decoding, slash and case handling), never against the URL's text. A
 * request no route matches reaches the 404 handler and nothing else.
 */
export function installAccess(app: FastifyInstance, o: AccessOptions): readonly DeclaredRoute[] {
  const declared: DeclaredRoute[] = []
  // null as the shape's default (fastify refuses a shared object); the hook below sets it first.
  app.decorateRequest('caller', null as unknown as Caller)
  app.addHook('onRoute', (route) => {
    const access = route.config?.access
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    if (access === undefined) {
      throw new Error(
        `route ${methods.join(',')} ${route.url} does not declare who may call it (config.access)`,
      )
    }
    for (const method of methods) declared.push({ method, url: route.url ?? route.path, access })
  })
  app.addHook('onRequest', async (req, reply) => {
    const caller = o.auth.identify(req.headers.authorization, req.headers['x-api-key'])
    req.caller = caller
    const access = req.routeOptions.config.access
    if (access === undefined) return
    const refusal = o.auth.refusal(access, caller)
    if (refusal === undefined) {
      if (caller.key !== null && access !== 'public') {
        o.audit?.recordFirstUse(caller.key, req.ip, { role: caller.role })
      }
      return
    }
    o.audit?.record(refusal === 'forbidden' ? 'forbidden' : 'auth_failed', {
      ...requestAuditFields(req),
      access,
    })
    return o.refuse(req, reply, refusalError(refusal, access, o.auth))
  })
  return declared
}
