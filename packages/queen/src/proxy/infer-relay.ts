import { isErrorCode } from '@rbee/client'
import { errorMessage, parseJson, RbeeError, readSse } from '@rbee/common'
import { type InferEvent, InferEventSchema } from '@rbee/contracts'
import type { WorkerEntry } from '../registry/worker-entry.js'
import { transportFailure, WorkerFailure } from '../transport/worker-failure.js'
import type { WorkerResponse } from '../transport/worker-transport.js'

export interface InferRelayOptions {
  worker: WorkerEntry
  signal: AbortSignal
  onToken: (t: string, i: number) => void
  /** When the first token arrives (the request can no longer move). */
  onFirstToken: () => void
}

/**
 * Reads a worker's native `/v1/infer` stream, every event validated, and hands each token on as
 * it arrives. Before the first token a failure throws a retryable `WorkerFailure`; after it, an
 * `RbeeError` saying the stream broke after N tokens.
 * @returns the worker's `end` event.
 */
export async function relayInfer(
  upstream: WorkerResponse,
  o: InferRelayOptions,
): Promise<Extract<InferEvent, { type: 'end' }>> {
  let tokens = 0
  const broke = (why: string, cause?: unknown): RbeeError =>
    tokens === 0
      ? transportFailure(o.worker, cause ?? new Error(why))
      : new RbeeError(
          'RBEE_WORKER_FAILED',
          `worker ${o.worker.id} failed mid-stream after ${tokens} tokens: ${why}`,
          {
            cause,
          },
        )
  try {
    for await (const msg of readSse(upstream.body)) {
      let ev: InferEvent
      try {
        ev = InferEventSchema.parse(parseJson(msg.data))
      } catch (err) {
        throw broke(`bad ${msg.event} event: ${errorMessage(err)}`, err)
      }
      switch (ev.type) {
        case 'started':
          break
        case 'token':
          if (tokens++ === 0) o.onFirstToken()
          o.onToken(ev.t, ev.i)
          break
        case 'end':
          return ev
        case 'error':
          // The worker ended the request at its deadline: the request's end, not a worker failure.
          if (ev.code === 'RBEE_DEADLINE_EXCEEDED') throw new RbeeError(ev.code, ev.message)
          if (tokens === 0) {
            throw new WorkerFailure(o.worker.id, `worker ${o.worker.id}: ${ev.message}`, {
              retryable: true,
              quarantine: false,
              status: 502,
            })
          }
          throw new RbeeError(isErrorCode(ev.code) ? ev.code : 'RBEE_WORKER_FAILED', ev.message)
      }
    }
  } catch (err) {
    if (o.signal.aborted) throw o.signal.reason
    if (err instanceof RbeeError) throw err
    throw broke(errorMessage(err), err)
  } finally {
    upstream.body.destroy()
  }
  throw broke('stream ended without an end event')
}
