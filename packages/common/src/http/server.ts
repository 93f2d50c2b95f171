import type { AddressInfo, Socket } from 'node:net'
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyRequest,
  LogController,
} from 'fastify'
import type { AuditLog } from '../audit-log.js'
import { Authenticator } from '../auth.js'
import { RbeeError } from '../errors.js'
import type { Logger } from '../logger.js'
import { callerOf, type DeclaredRoute, installAccess } from './access.js'
import { deadlineServerOptions, type RequestDeadlines, requestDeadlines } from './deadlines.js'
import { type ErrorShape, installErrorHandling, sendError } from './error-handler.js'
import { installJsonBodyParser } from './json-body-parser.js'

export interface HttpServerOptions {
  logger: Logger
  /** Largest accepted request body. @default 1 MiB */
  bodyLimit?: number
  /** Routes (as registered) answered in OpenAI's error shape (a route may declare `config.errorShape` instead). */
  openAiPaths?: readonly string[]
  /**
   * The credentials this server accepts; each route declares which it needs (`config.access`).
   * @default none: every route open
   */
  auth?: Authenticator
  /** Where refusals and first uses of a credential are recorded. */
  audit?: AuditLog | undefined
  /**
   * Sees every new connection first and may serve requests on it itself; it hands the
   * connection to the fastify app with `toApp(buffered)` (the bytes it read and did not serve)
   * at the first request it does not take. Connections it still holds are destroyed on close.
   */
  front?: ConnectionFront
  /** How long a request may take to arrive. @default HEADERS_DEADLINE_MS, BODY_DEADLINE_MS */
  deadlines?: Partial<RequestDeadlines>
}

/** See `HttpServerOptions.front`. */
export type ConnectionFront = (socket: Socket, toApp: (buffered: Buffer) => void) => void

/** A fastify app with rbee's error handling, auth and draining behaviour. */
export interface HttpServer {
  app: FastifyInstance
  /** From now on answer 503 + `Connection: close` to new requests (routes in `allow` still pass). */
  drain(allow?: readonly string[]): void
  readonly draining: boolean
  /** Every route registered so far, with who may call it. */
  readonly routes: readonly DeclaredRoute[]
  /** Binds and resolves with the bound port (port 0 picks a free one). */
  listen(host: string, port: number): Promise<number>
  close(): Promise<void>
}

/** Builds the HTTP server every rbee daemon uses. Routes are added by the caller on `app`. */
export function createHttpServer(options: HttpServerOptions): HttpServer {
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    // Per-request log lines would dominate the log at token rates; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    forceCloseConnections: true,
    return503OnClosing: true,
    ...deadlineServerOptions(requestDeadlines(options.deadlines)),
  })
  const auth = options.auth ?? new Authenticator()
  const openAiRoutes = new Set(options.openAiPaths ?? [])
  // Matched by the route the router chose, never by the URL's text.
  const shapeOf = (req: FastifyRequest): ErrorShape => {
    const declared = req.routeOptions.config?.errorShape
    if (declared !== undefined) return declared
    const route = req.routeOptions.url
    return route !== undefined && openAiRoutes.has(route) ? 'openai' : 'rbee'
  }
  installErrorHandling(app, { shapeOf, disclose: (req) => auth.isAdmin(callerOf(req)) })
  installJsonBodyParser(app)
  let draining = false
  let drainAllow = new Set<string>()

  app.addHook('onRequest', async (req, reply) => {
    const route = req.routeOptions.url
    if (draining && (route === undefined || !drainAllow.has(route))) {
      reply.header('connection', 'close')
      return sendError(
        reply,
        new RbeeError('RBEE_DRAINING', 'shutting down', { retryAfterS: 1 }),
        shapeOf(req),
      )
    }
  })
  const routes = installAccess(app, {
    auth,
    audit: options.audit,
    refuse: (req, reply, e) => sendError(reply, e, shapeOf(req)),
  })

  const held = new Set<Socket>()
  const front = options.front
  if (front) {
    // node:http's own listener parses requests for fastify; a connection reaches it only when
    // the front hands it over.
    const server = app.server
    const toHttp = server.listeners('connection') as Array<(socket: Socket) => void>
    server.removeAllListeners('connection')
    server.on('connection', (socket: Socket) => {
      held.add(socket)
      const forget = (): boolean => held.delete(socket)
      socket.once('close', forget)
      front(socket, (buffered) => {
        forget()
        socket.off('close', forget)
        if (buffered.length > 0) socket.unshift(buffered)
        for (const l of toHttp) l.call(server, socket)
      })
    })
  }

  return {
    app,
    routes,
    drain(allow = []) {
      draining = true
      drainAllow = new Set(allow)
    },
    get draining() {
      return draining
    },
    async listen(host, port) {
      await app.listen({ host, port })
      const addr = app.server.address() as AddressInfo
      return addr.port
    },
    async close() {
      const closing = app.close()
      for (const socket of held) socket.destroy()
      await closing
    },
  }
}
