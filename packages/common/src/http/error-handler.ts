import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { anthropicErrorBody } from '../dialects/anthropic/errors.js'
import { asResponsesError } from '../dialects/responses/errors.js'
import { isServerSideError, newErrorId, redactError } from '../error-disclosure.js'
import { errorMessage, isZodError, RbeeError, validationError } from '../errors.js'

/** Maps anything thrown in a route to an `RbeeError`; unknown errors become a logged 500. */
export function toRbeeError(err: unknown, req?: FastifyRequest): RbeeError {
  if (err instanceof RbeeError) return err
  if (isZodError(err)) return validationError(err)
  const fe = err as Partial<FastifyError>
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new RbeeError('RBEE_BAD_REQUEST', `malformed JSON body: ${errorMessage(err)}`)
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new RbeeError('RBEE_PAYLOAD_TOO_LARGE', 'request body is too large')
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      // Only JSON is read: a browser may send a text/plain or form body to a loopback daemon from
      // any page without asking first (no CORS preflight), so those are never taken for JSON.
      return new RbeeError(
        'RBEE_BAD_REQUEST',
        `unsupported content type ${String(req?.headers['content-type'] ?? '(none)').slice(0, 100)}: send the body as JSON with Content-Type: application/json`,
        { status: fe.statusCode ?? 415 },
      )
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new RbeeError('RBEE_BAD_REQUEST', errorMessage(err), { status: fe.statusCode ?? 400 })
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new RbeeError('RBEE_BAD_REQUEST', errorMessage(err), { status: fe.statusCode })
  }
  req?.log.error({ err }, 'unhandled error')
  return new RbeeError('RBEE_INTERNAL', 'internal error', { cause: err })
}

const OPENAI_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'invalid_request_error',
  429: 'rate_limit_error',
}

/** OpenAI's error body for an `RbeeError`: `{ error: { message, type, param, code } }` (+ `error_id`). */
export function openAiErrorBody(
  e: RbeeError,
  errorId?: string,
): {
  error: { message: string; type: string; param: string | null; code: string; error_id?: string }
} {
  const issues = (e.details as { issues?: Array<{ path: string }> } | undefined)?.issues
  return {
    error: {
      message: e.message,
      type: OPENAI_TYPES[e.status] ?? (e.status >= 500 ? 'server_error' : 'invalid_request_error'),
      param: issues?.[0]?.path ?? null,
      code: e.code,
      ...(errorId === undefined ? {} : { error_id: errorId }),
    },
  }
}

/** Our error body, with the error id of a server-side error. */
export function errorBody(
  e: RbeeError,
  errorId?: string,
): { error: ReturnType<RbeeError['toBody']>['error'] & { error_id?: string } } {
  const body = e.toBody()
  return errorId === undefined ? body : { error: { ...body.error, error_id: errorId } }
}

/**
 * How a server-side error reaches a client: logged in full under a fresh error id, and, unless
 * `disclose` (an admin, or no keys at all), with its message replaced by a short one that names
 * the id. Client errors (4xx) pass as they are.
 */
export function forClient(
  e: RbeeError,
  disclose: boolean,
  log: { warn: (obj: object, msg: string) => void },
): { error: RbeeError; errorId: string | undefined } {
  if (!isServerSideError(e)) return { error: e, errorId: undefined }
  const errorId = newErrorId()
  log.warn(
    { error_id: errorId, code: e.code, err: e.message, cause: errorMessage(e.cause ?? '') },
    'request failed',
  )
  return { error: disclose ? e : redactError(e, errorId), errorId }
}

/** The `Retry-After` header value for an error that carries one (whole seconds, at least 1). */
export function retryAfterHeader(e: RbeeError): string | undefined {
  return e.retryAfterS === undefined ? undefined : String(Math.max(1, Math.ceil(e.retryAfterS)))
}

/**
 * Ollama's error body for an `RbeeError`: `{ error: message }`, plus the stable `code` (and the
 * `error_id` of a server-side error), which Ollama's clients ignore.
 */
export function ollamaErrorBody(
  e: RbeeError,
  errorId?: string,
): { error: string; code: string; error_id?: string } {
  return { error: e.message, code: e.code, ...(errorId === undefined ? {} : { error_id: errorId }) }
}

/**
 * The error shape a route answers in: ours (`{ error: { code, message } }`), OpenAI's, Ollama's
 * (`{ error: "…" }`), Anthropic's (`{ type: "error", error: { type, message } }`), or OpenAI's
 * naming the Responses API's parameters (`responses`). A route declares a shape other than its
 * server's default with `config.errorShape`.
 */
export type ErrorShape = 'rbee' | 'openai' | 'ollama' | 'anthropic' | 'responses'

/** An error's body in `shape`. */
export function errorBodyIn(shape: ErrorShape, e: RbeeError, errorId?: string): object {
  switch (shape) {
    case 'openai':
      return openAiErrorBody(e, errorId)
    case 'ollama':
      return ollamaErrorBody(e, errorId)
    case 'anthropic':
      return anthropicErrorBody(e, errorId)
    case 'responses':
      return openAiErrorBody(asResponsesError(e), errorId)
    case 'rbee':
      return errorBody(e, errorId)
  }
}

/** Sends an error on a reply that has not started yet, in the shape given. */
export function sendError(
  reply: FastifyReply,
  e: RbeeError,
  shape: ErrorShape,
  errorId?: string,
): FastifyReply {
  const retryAfter = retryAfterHeader(e)
  if (retryAfter !== undefined) reply.header('retry-after', retryAfter)
  return reply.code(e.status).send(errorBodyIn(shape, e, errorId))
}

/**
 * A body refused for its size is still arriving. Closing the socket with it unread makes the
 * kernel send a reset, which destroys the 413 before the client reads it; so the connection is
 * kept, the rest is read and dropped (never buffered), and a client that keeps sending past a
 * bounded time is cut off.
 */
function discardBody(req: FastifyRequest, reply: FastifyReply): void {
  // fastify asks for `Connection: close` here; keeping the connection is what lets Node read the
  // rest of the body instead of resetting the socket.
  reply.removeHeader('connection')
  if (req.raw.readableEnded) return
  const cutOff = setTimeout(() => req.raw.destroy(), 10_000)
  cutOff.unref()
  req.raw.on('end', () => clearTimeout(cutOff))
  req.raw.on('close', () => clearTimeout(cutOff))
  req.raw.resume()
}

export interface ErrorHandlingOptions {
  /** The shape the route a request matched answers errors in. */
  shapeOf: (req: FastifyRequest) => ErrorShape
  /** Whether this request's caller may read server-side error details. */
  disclose: (req: FastifyRequest) => boolean
}

/** Installs the one error handler and the 404 handler of a server. */
export function installErrorHandling(app: FastifyInstance, o: ErrorHandlingOptions): void {
  app.setErrorHandler((err, req, reply) => {
    const e = toRbeeError(err, req)
    if (e.code === 'RBEE_PAYLOAD_TOO_LARGE') discardBody(req, reply)
    const out = forClient(e, o.disclose(req), req.log)
    return sendError(reply, out.error, o.shapeOf(req), out.errorId)
  })
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? ''
    const e = new RbeeError('RBEE_NOT_FOUND', `no route for ${req.method} ${path.slice(0, 512)}`)
    return sendError(reply, e, 'rbee')
  })
}
