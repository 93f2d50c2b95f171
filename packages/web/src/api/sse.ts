import { readSse as readSseChunks, type SseMessage } from '@rbee/common/browser'

/**
 * Reads SSE messages off a fetch body as they arrive (fetch, not EventSource: EventSource cannot
 * send the Authorization header), with the reader the CLI uses. Ends when the body ends.
 */
export function readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseMessage> {
  return readSseChunks(chunks(body))
}

async function* chunks(body: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = body.getReader()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return
      yield value
    }
  } finally {
    reader.cancel().catch(() => {})
  }
}
