import type { RbeeError } from '../../errors.js'
import { type FieldRenames, renamedError } from '../field-names.js'

/** The Responses parameters the chat request's fields came from. */
export const RESPONSES_NAMES: FieldRenames = [
  [/^max_completion_tokens\b/, 'max_output_tokens'],
  [/^messages\b/, 'input'],
  [/^response_format\.json_schema\b/, 'text.format'],
  [/^response_format\b/, 'text.format'],
  [/^tools\.(\d+)\.function\b/, 'tools.$1'],
  [/^tool_choice\.function\.name\b/, 'tool_choice.name'],
]

/** The error naming the Responses API's parameters instead of the chat fields they became. */
export function asResponsesError(e: RbeeError): RbeeError {
  return renamedError(e, RESPONSES_NAMES)
}
