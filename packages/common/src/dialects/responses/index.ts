import { type ResponsesRequest, ResponsesRequestSchema } from '@rbee/contracts'
import type { RbeeError } from '../../errors.js'
import { validationError } from '../../errors.js'
import { openAiErrorBody } from '../../http/error-handler.js'
import type { Dialect } from '../dialect.js'
import { RESPONSES_PROTOCOL } from './protocol.js'
import { responsesToChat } from './request.js'
import { wholeResponse } from './response.js'
import { ResponsesStream } from './stream.js'

/** Chat request fields a worker may name in an error, by the Responses parameter they came from. */
const RENAMED: Record<string, string> = { max_completion_tokens: 'max_output_tokens', messages: 'input' }

/** OpenAI's error body, naming the Responses parameters instead of the chat fields they became. */
function responsesErrorBody(e: RbeeError, errorId?: string): ReturnType<typeof openAiErrorBody> {
  const body = openAiErrorBody(e, errorId)
  const param = body.error.param
  if (param === null) return body
  const top = param.split('.')[0]!
  const renamed = RENAMED[top]
  if (renamed === undefined) return body
  return {
    error: {
      ...body.error,
      param: renamed + param.slice(top.length),
      message: body.error.message.replaceAll(`${top}:`, `${renamed}:`),
    },
  }
}

/** OpenAI's Responses API (`POST /v1/responses`), without server-side state. */
export const OPENAI_RESPONSES: Dialect<ResponsesRequest> = {
  name: 'responses',
  parse(body) {
    const parsed = ResponsesRequestSchema.safeParse(body)
    if (!parsed.success) throw validationError(parsed.error)
    return parsed.data
  },
  model: (req) => req.model,
  streamed: (req) => req.stream === true,
  toChat: responsesToChat,
  whole: wholeResponse,
  stream: (req) => new ResponsesStream(req),
  errorBody: responsesErrorBody,
  protocol: RESPONSES_PROTOCOL,
}

export { RESPONSES_PROTOCOL } from './protocol.js'
