import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import fastifyStatic from '@fastify/static'
import { RbeeError, ROUTE_ACCESS } from '@rbee/common'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { z } from 'zod'

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

// Vite names assets by content hash (`index-3f2a1b.js`), so they never change under a name.
const ASSET_NAME = z.string().regex(/^[A-Za-z0-9._-]{1,128}$/)

/**
 * The web dashboard, public (only its HTML, scripts and styles: every call it makes goes to the
 * APIs with the user's key): `GET /` and `GET /ui/*` answer `index.html` (client-side routes),
 * `GET /assets/:name` the bundle, gzipped when the browser accepts it (the build writes `.gz`
 * beside each file). `HEAD /` stays the Ollama probe's.
 */
export function registerDashboardRoutes(app: FastifyInstance, options: DashboardRoutesOptions = {}): void {
  const dir = options.dir === undefined ? defaultDashboardDir() : options.dir
  const page = { ...ROUTE_ACCESS.public, exposeHeadRoute: false }
  if (dir === null) {
    const missing = async (_req: unknown, reply: FastifyReply) =>
      reply.code(503).header('content-type', 'text/plain; charset=utf-8').send(`${DASHBOARD_MISSING}\n`)
    app.get('/', page, missing)
    app.get('/ui/*', page, missing)
    app.get<{ Params: { name: string } }>('/assets/:name', page, async (req) => {
      throw new RbeeError(
        'RBEE_NOT_FOUND',
        `no dashboard asset ${req.params.name.slice(0, 128)}: ${DASHBOARD_MISSING}`,
      )
    })
    return
  }
  void app.register(fastifyStatic, { root: dir, serve: false, preCompressed: true, cacheControl: false })
  const index = async (_req: unknown, reply: FastifyReply) =>
    reply.header('cache-control', 'no-cache').headers(PAGE_HEADERS).sendFile('index.html')
  app.get('/', page, index)
  app.get('/ui/*', page, index)
  app.get<{ Params: { name: string } }>('/assets/:name', page, async (req, reply) => {
    const name = ASSET_NAME.safeParse(req.params.name)
    if (!name.success)
      throw new RbeeError('RBEE_NOT_FOUND', `no dashboard asset ${req.params.name.slice(0, 128)}`)
    return reply
      .header('cache-control', 'public, max-age=31536000, immutable')
      .sendFile(join('assets', name.data))
  })
}
