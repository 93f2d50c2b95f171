import { ollamaErrorBody } from '../../http/error-handler.js'
import { parseJson } from '../../json-limits.js'
import type { SseEvent } from '../../sse/sse-writer.js'
import type { FrameError, StreamProtocol } from '../stream-protocol.js'

/** The message and rbee code of an Ollama error line (`{"error": "…", "code": "…"}`), if it is one. */
function errorLine(line: string): FrameError | undefined {
  let body: unknown
  try {
    body = parseJson(line)
  } catch {
    return undefined
  }
  if (typeof body !== 'object' || body === null || !('error' in body) || typeof body.error !== 'string')
    return undefined
  return { error: body.error, code: 'code' in body && typeof body.code === 'string' ? body.code : undefined }
}

const ERROR_LINE = '{"error":'

/**
 * How the queen relays Ollama's NDJSON streams (`/api/chat`, `/api/generate`): every line but an
 * error carries output (the stream has no opening lines to hold back), each `done: false` line is
 * a generated piece, the last line's figures end with `eval_duration`, and an error is a line
 * `{"error": "…"}` (which Ollama's clients throw). NDJSON has no comments: no keep-alives.
 */
export const OLLAMA_PROTOCOL: StreamProtocol = {
  contentType: 'application/x-ndjson',
  frameEnd: '\n',
  frame: (ev: SseEvent) => `${JSON.stringify(ev.data)}\n`,
  classify(frame) {
    if (frame.trim() === '') return 'hold'
    return frame.startsWith(ERROR_LINE) ? (errorLine(frame) ?? 'output') : 'output'
  },
  tokenMarks: [Buffer.from('"done":false')],
  endMarks: ['"eval_duration":'],
  errorFrame: (e, errorId) => `${JSON.stringify(ollamaErrorBody(e, errorId))}\n`,
  endedWithError(tail) {
    const start = tail.lastIndexOf(ERROR_LINE)
    if (start < 0) return undefined
    const end = tail.indexOf('\n', start)
    // Only chunk framing (hex sizes, CRLFs) may follow the line.
    if (end < 0 || !/^[\s0-9a-fA-F]*$/.test(tail.slice(end))) return undefined
    const e = errorLine(tail.slice(start, end))
    return e === undefined ? undefined : (e.code ?? 'RBEE_WORKER_FAILED')
  },
  wholeTokens(body) {
    if (typeof body !== 'object' || body === null || !('eval_count' in body)) return 0
    return typeof body.eval_count === 'number' ? body.eval_count : 0
  },
}
