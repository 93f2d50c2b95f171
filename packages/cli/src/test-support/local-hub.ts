import { createHash } from 'node:crypto'
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A stand-in for the Hugging Face hub, served on loopback the way the hub serves files:
 * `GET /api/models/{org}/{repo}` lists them, `HEAD|GET /{org}/{repo}/resolve/main/{file}`
 * gives size, LFS hash (`X-Linked-Etag`) and bytes, with `Range`. Bytes go out in small chunks
 * at `bytesPerSecond`, so a test can act in the middle of a download.
 */
export class LocalHub {
  readonly #server: Server
  readonly #files = new Map<string, Buffer>()
  readonly #open = new Set<ServerResponse>()
  /** Transfer rate of file bodies; 0 = as fast as possible. */
  bytesPerSecond = 0
  /** Connections of body transfers that were closed before the end (a cancelled download). */
  abortedTransfers = 0

  private constructor(server: Server) {
    this.#server = server
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`
  }

  static async start(): Promise<LocalHub> {
    const server = createServer()
    const hub = new LocalHub(server)
    server.on(
      'request',
      (req, res) => void hub.#handle(req.method ?? 'GET', req.url ?? '/', req.headers.range, res),
    )
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    return hub
  }

  addFile(org: string, repo: string, file: string, bytes: Buffer): void {
    this.#files.set(`${org}/${repo}/${file}`, bytes)
  }

  async #handle(method: string, url: string, range: string | undefined, res: ServerResponse): Promise<void> {
    const list = /^\/api\/models\/([^/]+)\/([^/?]+)/.exec(url)
    if (list) {
      const prefix = `${decodeURIComponent(list[1]!)}/${decodeURIComponent(list[2]!)}/`
      const siblings = [...this.#files.keys()]
        .filter((k) => k.startsWith(prefix))
        .map((k) => ({ rfilename: k.slice(prefix.length) }))
      res.writeHead(siblings.length ? 200 : 404, { 'content-type': 'application/json' })
      res.end(JSON.stringify(siblings.length ? { siblings } : { error: 'Repository not found' }))
      return
    }
    const file = /^\/([^/]+)\/([^/]+)\/resolve\/main\/(.+)$/.exec(url)
    const bytes = file
      ? this.#files.get(
          `${decodeURIComponent(file[1]!)}/${decodeURIComponent(file[2]!)}/${decodeURIComponent(file[3]!)}`,
        )
      : undefined
    if (!bytes) {
      res.writeHead(404).end('not found')
      return
    }
    const sha = createHash('sha256').update(bytes).digest('hex')
    const start = Number(/^bytes=(\d+)-$/.exec(range ?? '')?.[1] ?? 0)
    const headers = {
      'x-linked-etag': `"${sha}"`,
      'x-linked-size': String(bytes.length),
      'accept-ranges': 'bytes',
    }
    if (method === 'HEAD') {
      res.writeHead(200, { ...headers, 'content-length': String(bytes.length) }).end()
      return
    }
    const body = bytes.subarray(start)
    res.writeHead(start > 0 ? 206 : 200, {
      ...headers,
      'content-length': String(body.length),
      ...(start > 0 ? { 'content-range': `bytes ${start}-${bytes.length - 1}/${bytes.length}` } : {}),
    })
    this.#open.add(res)
    let closed = false
    res.once('close', () => {
      this.#open.delete(res)
      if (!res.writableFinished) {
        closed = true
        this.abortedTransfers++
      }
    })
    const chunk = 8 * 1024
    for (let off = 0; off < body.length && !closed; off += chunk) {
      if (!res.write(body.subarray(off, off + chunk))) await new Promise((r) => res.once('drain', r))
      if (this.bytesPerSecond > 0)
        await new Promise((r) => setTimeout(r, (chunk / this.bytesPerSecond) * 1000))
    }
    if (!closed) res.end()
  }

  async close(): Promise<void> {
    for (const res of this.#open) res.destroy()
    await new Promise<void>((r) => this.#server.close(() => r()))
  }
}
