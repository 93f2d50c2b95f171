import { createParser, type EventSourceMessage } from 'eventsource-parser'

export interface SseMessage {
  event: string
  id: string | undefined
  data: string
}

/**
 * Reads SSE messages from a byte stream (a fetch body, an undici body, a Node stream) as they
 * arrive. Events without a name are reported as `message`, per the SSE spec.
 */
export async function* readSse(body: AsyncIterable<Uint8Array>): AsyncGenerator<SseMessage> {
  const queue: SseMessage[] = []
  const parser = createParser({
    onEvent(ev: EventSourceMessage) {
      queue.push({ event: ev.event ?? 'message', id: ev.id, data: ev.data })
    },
  })
  const decoder = new TextDecoder()
  for await (const chunk of body) {
    parser.feed(decoder.decode(chunk, { stream: true }))
    while (queue.length > 0) yield queue.shift()!
  }
  parser.feed(decoder.decode())
  while (queue.length > 0) yield queue.shift()!
}
