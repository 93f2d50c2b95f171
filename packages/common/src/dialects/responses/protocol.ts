import { namedEventProtocol, type StreamProtocol } from '../stream-protocol.js'

/** How the queen relays a Responses stream. */
export const RESPONSES_PROTOCOL: StreamProtocol = namedEventProtocol({
  // Before any output: held back, so a failed request can still move to another worker.
  hold: [
    'response.created',
    'response.in_progress',
    'response.output_item.added',
    'response.content_part.added',
  ],
  errorOf: (body) =>
    typeof body === 'object' && body !== null && 'message' in body && typeof body.message === 'string'
      ? {
          message: body.message,
          code: 'code' in body && typeof body.code === 'string' ? body.code : undefined,
        }
      : undefined,
  tokenMarks: ['"type":"response.output_text.delta"', '"type":"response.function_call_arguments.delta"'],
  // A stream's events put `type` last (see ResponsesStream), so its final bytes name its end.
  endMarks: ['"type":"response.completed"}', '"type":"response.incomplete"}'],
  errorData: (e, errorId) => ({
    code: e.code,
    message: e.message,
    param: null,
    ...(errorId === undefined ? {} : { error_id: errorId }),
    type: 'error',
  }),
})
