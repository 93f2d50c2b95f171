import type { AnthropicError, AnthropicErrorType } from '@rbee/contracts'
import type { RbeeError } from '../../errors.js'

/** Anthropic's error type for an HTTP status. */
export function anthropicErrorType(status: number): AnthropicErrorType {
  switch (status) {
    case 401:
      return 'authentication_error'
    case 403:
      return 'permission_error'
    case 404:
      return 'not_found_error'
    case 413:
      return 'request_too_large'
    case 429:
      return 'rate_limit_error'
    case 503:
      return 'overloaded_error'
    case 504:
      return 'timeout_error'
    default:
      return status < 500 ? 'invalid_request_error' : 'api_error'
  }
}

/** Anthropic's error body for an `RbeeError`, with rbee's stable code (and the log's error id). */
export function anthropicErrorBody(e: RbeeError, errorId?: string): AnthropicError {
  return {
    type: 'error',
    error: {
      type: anthropicErrorType(e.status),
      message: e.message,
      code: e.code,
      ...(errorId === undefined ? {} : { error_id: errorId }),
    },
  }
}
