import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { errorMessage, RbeeError, ROUTE_ACCESS } from '@rbee/common'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { type BundleFile, type DashboardBundle, loadDashboardBundle } from './dashboard-bundle.js'

/** What `/` says when the dashboard was not built (a checkout without `npm ci`, or a bare copy). */
export const DASHBOARD_MISSING =
  'The rbee dashboard is not built. In the rbee checkout run `npm run build -w @rbee/web` (`npm ci` does it too), then restart queen-rbee. The APIs under /v1 work without it.'

/**
 * The built dashboard of the installed `@rbee/web` (its `dist/ui`), or null when the package or
 * its build is missing.
 */
export function defaultDashboardDir(): string | null {
  try {
    const manifest = createRequire(import.meta.url).resolve('@rbee/web/package.json')
    const dir = join(dirname(manifest), 'dist', 'ui')
    return existsSync(join(dir, 'index.html')) ? dir : null
  } catch {
    return null
  }
}

export interface DashboardRoutesOptions {
  /** @default defaultDashboardDir() */
  dir?: string | null | undefined
}

/**
 * The page may load only its own scripts and styles and talk only to this queen (no CDN, no
 * third party, never framed); the icon is an inline SVG.
 */
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'; object-src 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
}

/** Sends one file of the bundle, gzipped when the caller accepts it and the build wrote it. */
function sendFile(req: FastifyRequest, reply: FastifyReply, file: BundleFile): FastifyReply {
  const gzip = file.gzip !== undefined && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))
  reply.header('content-type', file.type).header('vary', 'accept-encoding')
  if (gzip) reply.header('content-encoding', 'gzip')
  return reply.send(gzip ? file.gzip : file.body)
}

/**
 * The web dashboard, public (only its HTML, scripts and styles: every call it makes goes to the
 * APIs with the user's key): `GET /` and `GET /ui/*` answer `index.html` (client-side routes),
 * `GET /assets/:name` the bundle, gzipped when the browser accepts it (the build writes `.gz`
 * beside each file), all from memory (`loadDashboardBundle`). `HEAD /` stays the Ollama probe's.
 */
export function registerDashboardRoutes(app: FastifyInstance, options: DashboardRoutesOptions = {}): void {
  const dir = options.dir === undefined ? defaultDashboardDir() : options.dir
  const page = { ...ROUTE_ACCESS.public, exposeHeadRoute: false }
  let bundle: DashboardBundle | undefined
  let missing = DASHBOARD_MISSING
  try {
    bundle = dir === null ? undefined : loadDashboardBundle(dir)
  } catch (err) {
    // A damaged build must not keep the queen from serving its APIs. The details (paths) go to
    // the log; the public page only says the build is damaged.
    app.log.warn({ dir, err: errorMessage(err) }, 'the dashboard cannot be served')
    missing = `The rbee dashboard's build is damaged and cannot be served (the queen's log says why). ${DASHBOARD_MISSING}`
  }
  if (!bundle) {
    const answer = async (_req: unknown, reply: FastifyReply) =>
      reply.code(503).header('content-type', 'text/plain; charset=utf-8').send(`${missing}\n`)
    app.get('/', page, answer)
    app.get('/ui/*', page, answer)
    app.get<{ Params: { name: string } }>('/assets/:name', page, async (req) => {
      throw new RbeeError('RBEE_NOT_FOUND', `no dashboard asset ${req.params.name.slice(0, 128)}: ${missing}`)
    })
    return
  }
  const built = bundle
  const index = async (req: FastifyRequest, reply: FastifyReply) =>
    sendFile(req, reply.header('cache-control', 'no-cache').headers(PAGE_HEADERS), built.index)
  app.get('/', page, index)
  app.get('/ui/*', page, index)
  app.get<{ Params: { name: string } }>('/assets/:name', page, async (req, reply) => {
    // Vite names assets by content hash (`index-3f2a1b.js`): they never change under a name.
    const file = built.assets.get(req.params.name)
    if (!file) throw new RbeeError('RBEE_NOT_FOUND', `no dashboard asset ${req.params.name.slice(0, 128)}`)
    return sendFile(req, reply.header('cache-control', 'public, max-age=31536000, immutable'), file)
  })
}
