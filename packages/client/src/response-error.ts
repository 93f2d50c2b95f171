import { errorMessage, isErrorCode, parseJson, RbeeError } from '@rbee/common/base'
import { AnthropicErrorSchema, ErrorBodySchema, OllamaErrorSchema, OpenAiErrorSchema } from '@rbee/contracts'

export { isErrorCode }

function retryAfterOf(header: string | string[] | undefined): number | undefined {
  const v = Array.isArray(header) ? header[0] : header
  if (v === undefined) return undefined
  const n = Number(v)
  return Number.isFinite(n) && n >= 0 ? n : undefined
}

/**
 * Turns a non-2xx answer into an `RbeeError` that keeps the server's code, message, details,
 * status and `Retry-After`. Our `{ error: { code, message } }` body, OpenAI's error shape and
 * Anthropic's (with rbee's `code`) are understood; anything else becomes `RBEE_UPSTREAM` with the status and a body excerpt.
 */
export function errorFromResponse(
  status: number,
  headers: Record<string, string | string[] | undefined>,
  bodyText: string,
  what: string,
): RbeeError {
  const retryAfterS = retryAfterOf(headers['retry-after'])
  let json: unknown
  try {
    json = parseJson(bodyText)
  } catch {
    json = undefined
  }
  const ours = ErrorBodySchema.safeParse(json)
  if (ours.success) {
    const { code, message, details } = ours.data.error
    return new RbeeError(isErrorCode(code) ? code : 'RBEE_UPSTREAM', message, {
      status,
      details: isErrorCode(code) ? details : { code, details },
      retryAfterS,
    })
  }
  const openAi = OpenAiErrorSchema.safeParse(json)
  if (openAi.success) {
    const { code, message, param } = openAi.data.error
    return new RbeeError(isErrorCode(code) ? code : 'RBEE_UPSTREAM', message, {
      status,
      details: param === null ? undefined : { param },
      retryAfterS,
    })
  }
  const anthropic = AnthropicErrorSchema.safeParse(json)
  if (anthropic.success) {
    const { code, message } = anthropic.data.error
    return new RbeeError(isErrorCode(code) ? code : 'RBEE_UPSTREAM', message, { status, retryAfterS })
  }
  const ollama = OllamaErrorSchema.safeParse(json)
  if (ollama.success) {
    const { code, error } = ollama.data
    return new RbeeError(isErrorCode(code) ? code : 'RBEE_UPSTREAM', error, { status, retryAfterS })
  }
  const excerpt = bodyText.slice(0, 200).replace(/\s+/g, ' ').trim()
  return new RbeeError('RBEE_UPSTREAM', `${what} answered HTTP ${status}${excerpt ? `: ${excerpt}` : ''}`, {
    status,
    retryAfterS,
  })
}

/** The error for a server that could not be reached at all (refused, reset, DNS, timeout). */
export function unreachableError(url: string, err: unknown): RbeeError {
  if (err instanceof RbeeError) return err
  const code = (err as { code?: unknown } | undefined)?.code
  const detail = typeof code === 'string' ? `${code}: ${errorMessage(err)}` : errorMessage(err)
  return new RbeeError('RBEE_UNREACHABLE', `cannot reach ${url} (${detail})`, { cause: err })
}
