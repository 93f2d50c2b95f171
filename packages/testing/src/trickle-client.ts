import assert from 'node:assert/strict'
import { connect } from 'node:net'

/** What the server did to a client that trickled its request. */
export interface TrickleOutcome {
  /** From the first byte sent to the connection closing. */
  ms: number
  /** Everything the server sent back (latin1). */
  received: string
  /** Bytes the client got out before the connection closed. */
  sent: number
}

export interface TrickleOptions {
  /** Sent at once when connected. */
  start: string
  /** Sent one byte at a time, over and over, until the server closes the connection. */
  drip: string
  /** @default 20 */
  everyMs?: number
  /** Fail if the server has not closed the connection by then. @default 10_000 */
  timeoutMs?: number
}

/**
 * A slow client: connects to 127.0.0.1:`port`, sends `start`, then one byte of `drip` every
 * `everyMs` for as long as the server keeps the connection. Resolves when the server closes it;
 * rejects after `timeoutMs` (a server with no deadline keeps such a client forever).
 */
export function trickleRequest(port: number, options: TrickleOptions): Promise<TrickleOutcome> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let received = ''
    let sent = 0
    let startedAt = 0
    let drip: NodeJS.Timeout | undefined
    const giveUp = setTimeout(() => {
      finish()
      reject(new Error(`the server kept a trickling client for ${options.timeoutMs ?? 10_000} ms`))
    }, options.timeoutMs ?? 10_000)
    const finish = (): void => {
      clearInterval(drip)
      clearTimeout(giveUp)
      socket.destroy()
    }
    socket.setEncoding('latin1')
    socket.on('data', (d: string) => {
      received += d
    })
    // A reset after the server's answer is a close too; the answer is in `received`.
    socket.on('error', () => {})
    socket.once('close', () => {
      finish()
      resolve({ ms: Date.now() - startedAt, received, sent })
    })
    socket.once('connect', () => {
      startedAt = Date.now()
      socket.write(options.start)
      sent += options.start.length
      let i = 0
      drip = setInterval(() => {
        if (socket.destroyed || socket.writableEnded) return
        socket.write(options.drip[i++ % options.drip.length]!)
        sent++
      }, options.everyMs ?? 20)
    })
  })
}

/**
 * Asserts that the server answered 408 and closed the connection at `deadlineMs`: not before
 * it, and at most `slackMs` after it (node checks its deadlines on a timer).
 */
export function assertCutOffAt(outcome: TrickleOutcome, deadlineMs: number, slackMs: number): void {
  assert.match(outcome.received, /^HTTP\/1\.1 408 /)
  assert.ok(
    outcome.ms >= deadlineMs - 50,
    `closed after ${outcome.ms} ms, before the ${deadlineMs} ms deadline`,
  )
  assert.ok(outcome.ms <= deadlineMs + slackMs, `closed after ${outcome.ms} ms (deadline ${deadlineMs} ms)`)
}
