// A loopback TCP proxy in front of a daemon, for tests that need a peer to die in the middle of
// a transfer at a byte they choose: a daemon advertised at the proxy's URL is reached only
// through it, and `cutAfter` ends every connection (and takes new ones no more) once one answer
// to a request for the given path has sent that many bytes.
import { once } from 'node:events'
import { type AddressInfo, connect, createServer, type Socket } from 'node:net'

interface Cut {
  pathPrefix: string
  bytes: number
  onCut: () => Promise<void> | void
  done: () => void
}

export class CutProxy {
  url = ''
  /** Bytes the answers to cut-path requests had sent when the proxy cut them. */
  cutAt = 0
  #targetPort = 0
  #cut: Cut | undefined
  readonly #sockets = new Set<Socket>()
  readonly #server = createServer((client) => this.#connection(client))

  /** Starts listening on 127.0.0.1 port 0; set `target()` before the first connection. */
  static async start(): Promise<CutProxy> {
    const p = new CutProxy()
    p.#server.listen(0, '127.0.0.1')
    await once(p.#server, 'listening')
    p.url = `http://127.0.0.1:${(p.#server.address() as AddressInfo).port}`
    return p
  }

  /** Where connections go: a port on 127.0.0.1. */
  target(port: number): void {
    this.#targetPort = port
  }

  /**
   * Arms the cut: the first answer to a request whose path starts with `pathPrefix` is cut after
   * `bytes` bytes; then `onCut` runs (kill the daemon), every connection is destroyed and the
   * port closes (new connections are refused). Resolves when it has happened.
   */
  cutAfter(pathPrefix: string, bytes: number, onCut: () => Promise<void> | void): Promise<void> {
    return new Promise((done) => {
      this.#cut = { pathPrefix, bytes, onCut, done }
    })
  }

  #connection(client: Socket): void {
    const upstream = connect(this.#targetPort, '127.0.0.1')
    this.#sockets.add(client).add(upstream)
    const drop = (): void => {
      client.destroy()
      upstream.destroy()
      this.#sockets.delete(client)
      this.#sockets.delete(upstream)
    }
    client.on('error', drop).on('close', drop)
    upstream.on('error', drop).on('close', drop)
    let watched = false
    let blocked = false
    let sent = 0
    client.on('data', (chunk: Buffer) => {
      const cut = this.#cut
      // Keep-alive connections carry one request after another: each request line is looked at.
      const line = /^(GET|HEAD) (\S+)/.exec(chunk.toString('latin1', 0, 512))
      if (line) {
        watched = cut !== undefined && line[1] === 'GET' && line[2]!.startsWith(cut.pathPrefix)
        sent = 0
      }
      upstream.write(chunk)
    })
    upstream.on('data', (chunk: Buffer) => {
      if (blocked) return
      const cut = this.#cut
      if (!watched || !cut) {
        client.write(chunk)
        return
      }
      const room = cut.bytes - sent
      if (chunk.length < room) {
        sent += chunk.length
        client.write(chunk)
        return
      }
      blocked = true
      client.write(chunk.subarray(0, room), () => void this.#doCut(cut, sent + room))
    })
  }

  async #doCut(cut: Cut, at: number): Promise<void> {
    if (this.#cut !== cut) return
    this.#cut = undefined
    this.cutAt = at
    await cut.onCut()
    await this.close()
    cut.done()
  }

  /** Destroys every connection and closes the port. Idempotent. */
  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy()
    this.#sockets.clear()
    if (this.#server.listening) await new Promise((r) => this.#server.close(r))
  }
}
