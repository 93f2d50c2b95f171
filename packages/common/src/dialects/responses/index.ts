import { type ResponsesRequest, ResponsesRequestSchema } from '@rbee/contracts'
import { validationError } from '../../errors.js'
import type { Dialect } from '../dialect.js'
import { RESPONSES_PROTOCOL } from './protocol.js'
import { responsesToChat } from './request.js'
import { wholeResponse } from './response.js'
import { ResponsesStream } from './stream.js'

/** OpenAI's Responses API (`POST /v1/responses`), without server-side state. */
export const OPENAI_RESPONSES: Dialect<ResponsesRequest> = {
  name: 'responses',
  read(body) {
    const parsed = ResponsesRequestSchema.safeParse(body)
    if (!parsed.success) throw validationError(parsed.error)
    return { request: parsed.data, chat: responsesToChat(parsed.data) }
  },
  whole: wholeResponse,
  stream: (req) => new ResponsesStream(req),
  errorShape: 'responses',
  protocol: RESPONSES_PROTOCOL,
}

export { RESPONSES_PROTOCOL } from './protocol.js'
