import { bearerMatches, RbeeError, sendError } from '@rbee/common'
import type { FastifyInstance } from 'fastify'

export interface AuthOptions {
  /** Keys accepted on the public API; empty means no key needed (loopback only). */
  apiKeys: readonly string[]
  /** Token hives and workers present on the node endpoints; unset means open (loopback only). */
  nodeToken?: string | undefined
  /** Endpoints hives and workers call (they present the node token, not an API key). */
  nodePaths: readonly string[]
  /** Endpoints anyone may call. */
  publicPaths: readonly string[]
  openAiPaths: readonly string[]
}

/**
 * Two kinds of bearer credentials: API keys for the public API and one node token for the
 * endpoints hives and workers call. Each only opens its own door; comparison is constant-time.
 */
export function installAuth(app: FastifyInstance, o: AuthOptions): void {
  const node = new Set(o.nodePaths)
  const open = new Set(o.publicPaths)
  const openAi = new Set(o.openAiPaths)
  const nodeTokens = o.nodeToken ? [o.nodeToken] : []
  app.addHook('onRequest', async (req, reply) => {
    const path = req.url.split('?')[0] ?? req.url
    if (open.has(path)) return
    if (node.has(path)) {
      if (nodeTokens.length > 0 && !bearerMatches(req.headers.authorization, nodeTokens)) {
        return sendError(reply, new RbeeError('RBEE_UNAUTHORIZED', 'missing or wrong node token'), false)
      }
      return
    }
    if (o.apiKeys.length > 0 && !bearerMatches(req.headers.authorization, o.apiKeys)) {
      return sendError(
        reply,
        new RbeeError('RBEE_UNAUTHORIZED', 'missing or wrong API key (Authorization: Bearer <key>)'),
        openAi.has(path),
      )
    }
  })
}
