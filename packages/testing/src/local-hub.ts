// A local Hugging Face hub for tests: a real HTTP server with the hub's URL scheme (the repo API,
// resolve URLs that redirect to a separate CDN server with X-Linked-Etag/X-Linked-Size, Range
// on the CDN) serving real bytes, plus injected faults (a dropped connection, a stall, corrupted
// bytes, 401 for gated repos, 404) and hostile answers (a hub that never answers, more bytes
// than announced, a gzip bomb); its transfers can be paced, so a test acts in mid-download.
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { setTimeout as delay } from 'node:timers/promises'
import { gzipSync } from 'node:zlib'

export interface HubRequest {
  server: 'hub' | 'cdn'
  method: string
  path: string
  range: string | undefined
  authorization: string | undefined
  acceptEncoding: string | undefined
}

/** Faults of one file, applied to the next GETs of its bytes. */
export interface HubFault {
  /** The next `times` transfers send this many bytes, then drop the connection. */
  dropAfterBytes?: number
  /** How many transfers drop. @default 1 */
  times?: number
  /** Transfers send this many bytes, then hang until the client goes away. */
  stallAfterBytes?: number
  /** Serve bytes that differ from the hash the hub announces. */
  corrupt?: boolean
  /** Every transfer that reaches this byte of the file hangs there until the client goes away. */
  stallAtByte?: number
  /**
   * Every transfer that reaches this byte of the file waits there (counted as a stall point)
   * until `release()`, then sends the rest.
   */
  holdAtByte?: number
  /** Transfers send one byte every this many ms, until the client goes away (a slow drip). */
  dripEveryMs?: number
  /**
   * Streams this many zero bytes after the file, chunked (no Content-Length), as a server that
   * announced the size and then kept sending would.
   */
  extraBytes?: number
  /**
   * Answers with `Content-Encoding: gzip` whatever the request accepts: a small body that
   * inflates to this many zero bytes.
   */
  gzipInflatesTo?: number
}

interface HubFile {
  bytes: Buffer
  sha256: string
  fault: HubFault
}

interface Repo {
  token: string | undefined
  /** Every request about the repo is read and never answered. */
  silent: boolean
  files: Map<string, HubFile>
}

function listen(server: Server, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, host, () => resolve((server.address() as AddressInfo).port))
  })
}

/** A hub on one loopback port and its CDN on another. */
export class LocalHub {
  readonly requests: HubRequest[] = []
  readonly #repos = new Map<string, Repo>()
  /** `org/repo/sha256` → file: the CDN path names the repo, as the real one does. */
  readonly #blobs = new Map<string, HubFile>()
  readonly #sockets = new Set<Socket>()
  readonly #stallWaiters: Array<() => void> = []
  readonly #held: Array<() => void> = []
  #stalls = 0
  /** Body bytes the CDN has handed to its sockets. */
  bytesServed = 0
  /** Pace of the CDN's file bodies in bytes per second; 0: as fast as the client reads. */
  bytesPerSecond = 0
  /** Transfers of a file's bytes that the client closed before the end (a cancelled download). */
  abortedTransfers = 0
  url = ''
  cdnUrl = ''
  readonly #hub = createServer((req, res) => this.#hubRoute(req, res))
  readonly #cdn = createServer((req, res) => this.#cdnRoute(req, res))

  /**
   * Starts the hub and its CDN on port 0 of `host` (default loopback; a fleet test gives the
   * test network's gateway, so hives in their namespaces reach it).
   */
  static async start(options: { host?: string } = {}): Promise<LocalHub> {
    const host = options.host ?? '127.0.0.1'
    const hub = new LocalHub()
    for (const s of [hub.#hub, hub.#cdn])
      s.on('connection', (sock) => {
        hub.#sockets.add(sock)
        sock.on('close', () => hub.#sockets.delete(sock))
      })
    hub.url = `http://${host}:${await listen(hub.#hub, host)}`
    hub.cdnUrl = `http://${host}:${await listen(hub.#cdn, host)}`
    return hub
  }

  /**
   * Publishes a repo; with `token`, every request to it needs `Authorization: Bearer <token>`;
   * `silent`: the hub never answers a request about it (the socket stays open).
   */
  addRepo(
    org: string,
    repo: string,
    files: Record<string, Buffer>,
    options: { token?: string; silent?: boolean } = {},
  ): void {
    const map = new Map<string, HubFile>()
    for (const [name, bytes] of Object.entries(files)) {
      const f: HubFile = { bytes, sha256: createHash('sha256').update(bytes).digest('hex'), fault: {} }
      map.set(name, f)
      this.#blobs.set(`${org}/${repo}/${f.sha256}`, f)
    }
    this.#repos.set(`${org}/${repo}`, { token: options.token, silent: options.silent ?? false, files: map })
  }

  /** Adds one file to a repo (a public one, created if new). */
  addFile(org: string, repo: string, file: string, bytes: Buffer): void {
    const existing = this.#repos.get(`${org}/${repo}`)
    const files = Object.fromEntries([...(existing?.files ?? [])].map(([name, f]) => [name, f.bytes]))
    this.addRepo(
      org,
      repo,
      { ...files, [file]: bytes },
      { token: existing?.token, silent: existing?.silent ?? false },
    )
  }

  /** Sets the faults of a file (replacing earlier ones). */
  fault(org: string, repo: string, file: string, fault: HubFault): void {
    const f = this.#repos.get(`${org}/${repo}`)?.files.get(file)
    if (!f) throw new Error(`no ${file} in ${org}/${repo}`)
    f.fault = { times: 1, ...fault }
  }

  /** Where the CDN serves a file's bytes (what the hub's resolve URL redirects to). */
  cdnUrlOf(org: string, repo: string, file: string): string {
    return `${this.cdnUrl}/repos/${org}/${repo}/${this.sha256(org, repo, file)}`
  }

  /** The sha256 the hub announces for a file. */
  sha256(org: string, repo: string, file: string): string {
    return this.#repos.get(`${org}/${repo}`)!.files.get(file)!.sha256
  }

  /** Transfers that reached a stall point so far. */
  get stalls(): number {
    return this.#stalls
  }

  /** Lets every transfer held at `holdAtByte` send the rest of the file. */
  release(): void {
    for (const send of this.#held.splice(0)) send()
  }

  /** Resolves once `n` transfers (in total) have reached a stall point; rejects after `timeoutMs`. */
  stalled(n = 1, timeoutMs = 10_000): Promise<void> {
    if (this.#stalls >= n) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no transfer stalled within ${timeoutMs} ms`)),
        timeoutMs,
      )
      const check = (): void => {
        if (this.#stalls >= n) {
          clearTimeout(timer)
          resolve()
        } else this.#stallWaiters.push(check)
      }
      this.#stallWaiters.push(check)
    })
  }

  #record(server: 'hub' | 'cdn', req: IncomingMessage): void {
    this.requests.push({
      server,
      method: req.method ?? 'GET',
      path: req.url ?? '',
      range: req.headers.range,
      authorization: req.headers.authorization,
      acceptEncoding: req.headers['accept-encoding'],
    })
  }

  #authorized(repo: Repo, req: IncomingMessage, res: ServerResponse): boolean {
    if (!repo.token || req.headers.authorization === `Bearer ${repo.token}`) return true
    res.writeHead(401, { 'content-type': 'application/json', 'x-error-code': 'GatedRepo' })
    res.end(JSON.stringify({ error: 'Access to this model is restricted. You must be authenticated.' }))
    return false
  }

  #hubRoute(req: IncomingMessage, res: ServerResponse): void {
    this.#record('hub', req)
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]!)
    const api = /^\/api\/models\/([^/]+)\/([^/]+)$/.exec(path)
    const resolve = /^\/([^/]+)\/([^/]+)\/resolve\/main\/(.+)$/.exec(path)
    const repoId = api ? `${api[1]}/${api[2]}` : resolve ? `${resolve[1]}/${resolve[2]}` : ''
    const repo = this.#repos.get(repoId)
    if (!repo) {
      res.writeHead(404, { 'content-type': 'application/json', 'x-error-code': 'RepoNotFound' })
      res.end(JSON.stringify({ error: 'Repository not found' }))
      return
    }
    if (repo.silent) return
    if (!this.#authorized(repo, req, res)) return
    if (api) {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(
        JSON.stringify({
          id: `${api[1]}/${api[2]}`,
          sha: 'f'.repeat(40),
          siblings: [...repo.files.keys()].map((rfilename) => ({ rfilename })),
        }),
      )
      return
    }
    const file = repo.files.get(resolve![3]!)
    if (!file) {
      res.writeHead(404, { 'x-error-code': 'EntryNotFound' })
      res.end('Entry not found')
      return
    }
    // As the hub does for LFS files: a redirect to the CDN, with the LFS hash and size.
    res.writeHead(302, {
      location: `${this.cdnUrl}/repos/${repoId}/${file.sha256}`,
      'x-linked-etag': `"${file.sha256}"`,
      'x-linked-size': String(file.bytes.length),
      etag: `"${file.sha256}"`,
      'x-repo-commit': 'f'.repeat(40),
    })
    res.end()
  }

  #cdnRoute(req: IncomingMessage, res: ServerResponse): void {
    this.#record('cdn', req)
    const m = /^\/repos\/([^/]+\/[^/]+\/[0-9a-f]{64})$/.exec(req.url ?? '')
    const file = m ? this.#blobs.get(m[1]!) : undefined
    if (!file) {
      res.writeHead(404)
      res.end()
      return
    }
    let bytes = file.bytes
    if (file.fault.corrupt) {
      bytes = Buffer.from(bytes)
      const i = Math.floor(bytes.length / 2)
      bytes[i] = (bytes[i]! + 1) % 256
    }
    const fault = file.fault
    if (fault.gzipInflatesTo !== undefined) {
      const body = gzipSync(Buffer.alloc(fault.gzipInflatesTo))
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-encoding': 'gzip',
        'content-length': String(body.length),
      })
      this.#send(res, body, req.method === 'HEAD')
      return
    }
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '')
    const start = range ? Number(range[1]) : 0
    if (start >= bytes.length && range) {
      res.writeHead(416, { 'content-range': `bytes */${bytes.length}` })
      res.end()
      return
    }
    const body = bytes.subarray(start)
    if (fault.extraBytes !== undefined) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' })
      if (req.method === 'HEAD') res.end()
      else void this.#stream(res, body, fault.extraBytes)
      return
    }
    res.writeHead(range ? 206 : 200, {
      'content-type': 'application/octet-stream',
      'content-length': String(body.length),
      'accept-ranges': 'bytes',
      ...(range ? { 'content-range': `bytes ${start}-${bytes.length - 1}/${bytes.length}` } : {}),
    })
    if (req.method === 'HEAD') {
      res.end()
      return
    }
    res.once('close', () => {
      if (!res.writableFinished) this.abortedTransfers++
    })
    if (fault.dropAfterBytes !== undefined && (fault.times ?? 1) > 0) {
      fault.times = (fault.times ?? 1) - 1
      res.write(body.subarray(0, fault.dropAfterBytes), () => {
        // Give the bytes a moment on the wire, then cut the connection mid-body.
        setTimeout(() => res.socket?.destroy(), 20)
      })
      return
    }
    if (fault.dripEveryMs !== undefined) {
      let sent = 0
      const drip = setInterval(() => {
        if (sent < body.length) res.write(body.subarray(sent, ++sent))
      }, fault.dripEveryMs)
      res.on('close', () => clearInterval(drip))
      return
    }
    if (fault.holdAtByte !== undefined && fault.holdAtByte > start) {
      const at = fault.holdAtByte - start
      res.write(body.subarray(0, at), () => {
        this.#held.push(() => {
          if (!res.destroyed) this.#send(res, body.subarray(at), false)
        })
        this.#stalled()
      })
      return
    }
    const stallAt =
      fault.stallAfterBytes ?? (fault.stallAtByte === undefined ? undefined : fault.stallAtByte - start)
    if (stallAt !== undefined) {
      res.write(body.subarray(0, Math.max(0, stallAt)), () => this.#stalled())
      return
    }
    if (this.bytesPerSecond > 0) void this.#pace(res, body)
    else this.#send(res, body, false)
  }

  #stalled(): void {
    this.#stalls++
    for (const w of this.#stallWaiters.splice(0)) w()
  }

  #send(res: ServerResponse, body: Buffer, headOnly: boolean): void {
    if (headOnly) {
      res.end()
      return
    }
    res.end(body, () => {
      this.bytesServed += body.length
    })
  }

  /** Sends `body` 8 KiB at a time at `bytesPerSecond`, until the client goes away. */
  async #pace(res: ServerResponse, body: Buffer): Promise<void> {
    const chunk = 8 * 1024
    const closed = once(res, 'close').then(() => false)
    for (let offset = 0; offset < body.length && !res.destroyed; offset += chunk) {
      const part = body.subarray(offset, offset + chunk)
      this.bytesServed += part.length
      if (!res.write(part) && !(await Promise.race([once(res, 'drain').then(() => true), closed]))) return
      if (this.bytesPerSecond > 0) await delay((part.length / this.bytesPerSecond) * 1000)
    }
    if (!res.destroyed) res.end()
  }

  /** Sends `body` then `extra` zero bytes, 64 KiB at a time, as fast as the client reads. */
  async #stream(res: ServerResponse, body: Buffer, extra: number): Promise<void> {
    const zeros = Buffer.alloc(64 * 1024)
    let left = body.length + extra
    let offset = 0
    const closed = once(res, 'close').then(() => false)
    while (left > 0 && !res.destroyed) {
      const chunk =
        offset < body.length ? body.subarray(offset, offset + zeros.length) : zeros.subarray(0, left)
      offset += chunk.length
      left -= chunk.length
      this.bytesServed += chunk.length
      if (!res.write(chunk) && !(await Promise.race([once(res, 'drain').then(() => true), closed]))) return
    }
    if (!res.destroyed) res.end()
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy()
    await Promise.all([this.#hub, this.#cdn].map((s) => new Promise((r) => s.close(r))))
  }
}
