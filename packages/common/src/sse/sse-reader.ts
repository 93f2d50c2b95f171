import { createParser, type EventSourceMessage, type ParseError } from 'eventsource-parser'
import { RbeeError } from '../errors.js'

/**
 * The largest SSE event a reader buffers (characters of a line or of one event's data). The
 * events rbee sends are far smaller; a peer that sends data without ever ending the event is
 * cut off here instead of filling memory.
 */
export const MAX_SSE_EVENT_CHARS = 8 * 1024 * 1024

export interface SseMessage {
  event: string
  id: string | undefined
  data: string
}

/**
 * Reads SSE messages from a byte stream (a fetch body, an undici body, a Node stream) as they
 * arrive. Events without a name are reported as `message`, per the SSE spec.
 * @throws RbeeError `RBEE_UPSTREAM` for an event longer than `MAX_SSE_EVENT_CHARS`.
 */
export async function* readSse(body: AsyncIterable<Uint8Array>): AsyncGenerator<SseMessage> {
  const queue: SseMessage[] = []
  let failed: ParseError | undefined
  const parser = createParser({
    onEvent(ev: EventSourceMessage) {
      queue.push({ event: ev.event ?? 'message', id: ev.id, data: ev.data })
    },
    onError(err) {
      if (err.type === 'max-buffer-size-exceeded') failed = err
    },
    maxBufferSize: MAX_SSE_EVENT_CHARS,
  })
  const decoder = new TextDecoder()
  const feed = (text: string): void => {
    parser.feed(text)
    if (failed) {
      throw new RbeeError('RBEE_UPSTREAM', `an SSE event is longer than ${MAX_SSE_EVENT_CHARS} characters`, {
        cause: failed,
      })
    }
  }
  for await (const chunk of body) {
    feed(decoder.decode(chunk, { stream: true }))
    while (queue.length > 0) yield queue.shift()!
  }
  feed(decoder.decode())
  while (queue.length > 0) yield queue.shift()!
}
