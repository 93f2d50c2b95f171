import {
  forClient,
  formatSse,
  type HeaderBag,
  type Logger,
  openAiErrorBody,
  RbeeError,
  type StreamProtocol,
} from '@rbee/common'
import type { RelayTarget } from './openai-relay.js'

/**
 * The request header by which a streamed OpenAI request asks to be told its place in the queue and
 * the progress of a spawn it waits for: `X-Rbee-Progress: 1`.
 */
export const PROGRESS_HEADER = 'x-rbee-progress'

/**
 * Whether a request asked for progress (`1`/`true`; `0`/`false` or no header: no).
 * @throws RbeeError `RBEE_VALIDATION` (400) naming the header for any other value.
 */
export function progressRequested(headers: HeaderBag, stream = true): boolean {
  const raw = headers[PROGRESS_HEADER]
  if (raw === undefined) return false
  const v = typeof raw === 'string' ? raw.trim().toLowerCase() : undefined
  if (v === '0' || v === 'false') return false
  const problem =
    v === '1' || v === 'true'
      ? stream
        ? undefined
        : 'only a streamed request (stream: true) can hear its progress'
      : 'must be 1 or 0 (true or false), given once'
  if (problem === undefined) return true
  throw new RbeeError('RBEE_VALIDATION', `invalid X-Rbee-Progress header: ${problem}`, {
    details: { issues: [{ path: 'X-Rbee-Progress', message: problem }] },
  })
}

/**
 * Progress of a streamed OpenAI request that waits (in the queue, for a spawn), for a client that
 * asked for it: the answer's stream opens at the first news (200, SSE) and each piece of news is
 * an SSE comment (`: queued: position 2 of 3`), which SSE readers, the official `openai` clients'
 * among them, skip. Once open, the tokens follow in the same stream, and an error before them
 * (a deadline, a failed spawn) is an error frame in OpenAI's shape instead of an HTTP status.
 */
export class QueueProgress {
  readonly #open: () => RelayTarget
  readonly #logger: Logger
  readonly #protocol: StreamProtocol | undefined
  #target: RelayTarget | undefined

  /**
   * `open` sends the stream's head (without a worker: none is chosen yet); `protocol`: the
   * stream's API when not OpenAI's (its error frames are that API's).
   */
  constructor(open: () => RelayTarget, logger: Logger, protocol?: StreamProtocol) {
    this.#open = open
    this.#protocol = protocol
    this.#logger = logger
  }

  /** The stream, once news opened it. */
  get target(): RelayTarget | undefined {
    return this.#target
  }

  /** Sends one piece of news as an SSE comment (one line). */
  say(text: string): void {
    this.#target ??= this.#open()
    this.#target.write(Buffer.from(`: ${text.replace(/[\r\n]+/g, ' ')}\n\n`, 'utf8'))
  }

  /**
   * Ends an open stream with the error as its last frame (a server-side error's message replaced
   * by its logged error id, as on every other answer to a client).
   * @returns false when no stream is open: the caller answers as usual.
   */
  fail(err: RbeeError): boolean {
    if (!this.#target) return false
    const shown = forClient(err, false, this.#logger)
    this.#target.end(
      this.#protocol
        ? this.#protocol.errorFrame(shown.error, shown.errorId)
        : `data: ${JSON.stringify(openAiErrorBody(shown.error, shown.errorId))}\n\n`,
    )
    return true
  }

  /** Ends an open stream with a whole answer the worker sent instead of a stream (its 4xx). */
  endWith(body: Buffer): void {
    const data = body.toString('utf8').replace(/\r?\n/g, ' ')
    // Another API's worker answered in its own error shape: that body is its error event's data.
    this.#target?.end(this.#protocol ? formatSse({ event: 'error', data }) : `data: ${data}\n\n`)
  }
}
