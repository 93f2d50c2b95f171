import { RbeeError } from '@rbee/common'
import type { FastifyReply } from 'fastify'

/**
 * An AbortSignal that fires the moment the client goes away before its answer is complete, so
 * waiting in the queue and the upstream generation stop at once.
 */
export function clientGoneSignal(reply: FastifyReply): AbortSignal {
  const ac = new AbortController()
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) ac.abort(new RbeeError('RBEE_CANCELLED', 'client disconnected'))
  })
  return ac.signal
}
