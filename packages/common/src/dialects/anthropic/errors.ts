import type { AnthropicError, AnthropicErrorType } from '@rbee/contracts'
import type { RbeeError } from '../../errors.js'
import { type FieldRenames, renamedError } from '../field-names.js'

/** The Messages fields the chat request's fields came from. */
export const ANTHROPIC_NAMES: FieldRenames = [
  [/^stop\b/, 'stop_sequences'],
  [/^response_format\.json_schema\b/, 'output_config.format'],
  [/^response_format\b/, 'output_config.format'],
  [/^tools\.(\d+)\.function\.parameters\b/, 'tools.$1.input_schema'],
  [/^tools\.(\d+)\.function\b/, 'tools.$1'],
  [/^tool_choice\.function\.name\b/, 'tool_choice.name'],
]

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

/**
 * Anthropic's error body for an `RbeeError`, with rbee's stable code (and the log's error id),
 * naming the Messages fields instead of the chat fields they became.
 */
export function anthropicErrorBody(error: RbeeError, errorId?: string): AnthropicError {
  const e = renamedError(error, ANTHROPIC_NAMES)
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
