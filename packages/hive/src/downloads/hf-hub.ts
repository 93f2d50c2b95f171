import { Deadline, errorMessage, parseJson, RbeeError } from '@rbee/common'
import { z } from 'zod'
import { HIVE_DEFAULTS } from '../hive-defaults.js'

export interface HfHubOptions {
  /** Base URL of the hub (`HF_ENDPOINT`). @default HIVE_DEFAULTS.hfEndpoint */
  endpoint?: string
  /** Sent as `Authorization: Bearer …` to the hub itself, never to the CDN it redirects to. */
  token?: string | undefined
  /**
   * Per metadata request (the repo listing, each HEAD): from sending it to the last byte read.
   * @default 30_000
   */
  timeoutMs?: number
  /**
   * Why a 401/403 happened, for its error (a peer hive's refusal is about its node token).
   * @default a hint about HF_TOKEN
   */
  refusedHint?: string | undefined
}

/** A file on the hub, as its `resolve` URL describes it. */
export interface RemoteFile {
  /** Where the bytes come from (the CDN location the hub redirects to, or the resolve URL). */
  url: string
  size: number | undefined
  /** The LFS sha256 (`X-Linked-Etag`, else a 64-hex `ETag`); undefined when the hub gives none. */
  sha256: string | undefined
}

const RepoInfoSchema = z.object({ siblings: z.array(z.object({ rfilename: z.string() })) })

/** A repo listing larger than this is refused (the largest real ones are a few MB). */
const MAX_LISTING_BYTES = 32 * 1024 * 1024

/**
 * The body as JSON (undefined when it is not JSON), reading at most `max` bytes: a hub that
 * sends more is refused before it fills the memory.
 */
async function readJsonUpTo(res: Response, max: number, what: string): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of res.body ?? []) {
    size += (chunk as Uint8Array).length
    if (size > max) {
      throw new RbeeError('RBEE_DOWNLOAD_REFUSED', `${what} is larger than ${max} bytes; refused`)
    }
    chunks.push(Buffer.from(chunk as Uint8Array))
  }
  try {
    return parseJson(Buffer.concat(chunks).toString('utf8'))
  } catch {
    return undefined
  }
}

/** `"abc…"` or `W/"abc…"` → `abc…`. */
function unquoteEtag(v: string | null): string | undefined {
  if (!v) return undefined
  return v.replace(/^W\//, '').replace(/^"|"$/g, '').toLowerCase()
}

function sha256Of(etag: string | undefined): string | undefined {
  return etag && /^[0-9a-f]{64}$/.test(etag) ? etag : undefined
}

/** The RbeeError for a hub answer that is not a success. */
export function hubHttpError(status: number, what: string, endpoint: string, hint: string): RbeeError {
  if (status === 401 || status === 403) {
    return new RbeeError(
      'RBEE_DOWNLOAD_FAILED',
      `${endpoint} refused access to ${what} (HTTP ${status}): ${hint}`,
      {
        details: { http_status: status },
      },
    )
  }
  if (status === 404) {
    return new RbeeError('RBEE_MODEL_NOT_FOUND', `${endpoint} has no ${what} (HTTP 404)`, {
      details: { http_status: status },
    })
  }
  return new RbeeError('RBEE_DOWNLOAD_FAILED', `${endpoint} answered HTTP ${status} for ${what}`, {
    details: { http_status: status },
  })
}

/** True for hub answers that retrying cannot fix. */
export function isPermanentStatus(status: number): boolean {
  return status >= 400 && status < 500 && status !== 408 && status !== 429
}

/**
 * Talks to a Hugging Face hub (or anything with its URL scheme): `GET /api/models/{org}/{repo}`
 * for the file list, `HEAD /{org}/{repo}/resolve/main/{file}` (redirects not followed) for the
 * size, the LFS hash and the download location.
 */
export class HfHub {
  readonly endpoint: string
  readonly #origin: string
  readonly #token: string | undefined
  readonly timeoutMs: number
  /** What a 401/403 from this hub means, for its error. */
  readonly refusedHint: string

  constructor(options: HfHubOptions = {}) {
    this.endpoint = (options.endpoint ?? HIVE_DEFAULTS.hfEndpoint).replace(/\/+$/, '')
    this.#origin = new URL(this.endpoint).origin
    this.#token = options.token
    this.timeoutMs = options.timeoutMs ?? HIVE_DEFAULTS.hfTimeoutMs
    this.refusedHint =
      options.refusedHint ??
      (options.token !== undefined
        ? 'the HF_TOKEN given was not accepted for it'
        : 'it is gated or private: set HF_TOKEN to a token that has access')
  }

  /** Request headers for `url`: the token only goes to the hub's own origin. */
  headersFor(url: string): Record<string, string> {
    const h: Record<string, string> = { 'user-agent': 'rbee-hive' }
    if (this.#token && new URL(url).origin === this.#origin) h.authorization = `Bearer ${this.#token}`
    return h
  }

  /**
   * One metadata request: `read` gets the answer and reads what it needs of it, all within
   * `timeoutMs` (a hub that accepts the connection and never answers, or answers slowly, fails).
   */
  async #request<T>(
    url: string,
    init: RequestInit & { headers?: Record<string, string> },
    signal: AbortSignal,
    what: string,
    read: (res: Response) => Promise<T>,
  ): Promise<T> {
    const deadline = new Deadline({ ms: this.timeoutMs, parent: signal })
    try {
      const res = await fetch(url, {
        ...init,
        headers: { ...this.headersFor(url), ...init.headers },
        signal: deadline.signal,
      })
      return await read(res)
    } catch (err) {
      if (signal.aborted) throw signal.reason
      if (err instanceof RbeeError) throw err
      const why = deadline.timedOut ? errorMessage(deadline.signal.reason) : errorMessage(err)
      throw new RbeeError('RBEE_DOWNLOAD_FAILED', `cannot reach ${this.endpoint} for ${what}: ${why}`, {
        cause: err,
      })
    } finally {
      deadline.clear()
    }
  }

  /** The files of a repo (`siblings[].rfilename`). */
  async listFiles(org: string, repo: string, signal: AbortSignal): Promise<string[]> {
    const what = `repo ${org}/${repo}`
    const url = `${this.endpoint}/api/models/${encodeURIComponent(org)}/${encodeURIComponent(repo)}`
    const listing = await this.#request(url, {}, signal, what, async (res) => {
      if (!res.ok) {
        await res.body?.cancel()
        throw hubHttpError(res.status, what, this.endpoint, this.refusedHint)
      }
      return readJsonUpTo(res, MAX_LISTING_BYTES, `${this.endpoint}'s listing of ${what}`)
    })
    const parsed = RepoInfoSchema.safeParse(listing)
    if (!parsed.success) {
      throw new RbeeError(
        'RBEE_DOWNLOAD_FAILED',
        `${this.endpoint} sent a repo listing without siblings for ${what}`,
      )
    }
    return parsed.data.siblings.map((s) => s.rfilename)
  }

  /** The resolve URL of a file on the main branch. */
  resolveUrl(org: string, repo: string, file: string): string {
    const path = file.split('/').map(encodeURIComponent).join('/')
    return `${this.endpoint}/${encodeURIComponent(org)}/${encodeURIComponent(repo)}/resolve/main/${path}`
  }

  /**
   * Describes a file without downloading it. Redirects within the hub (renamed repos) are
   * followed; the first one off the hub is where the bytes are, and its `X-Linked-*` headers
   * (set by the hub on that redirect) carry the LFS size and hash.
   */
  async probe(org: string, repo: string, file: string, signal: AbortSignal): Promise<RemoteFile> {
    const what = `${file} in ${org}/${repo}`
    let url = this.resolveUrl(org, repo, file)
    let size: number | undefined
    let sha256: string | undefined
    for (let hop = 0; hop < 6; hop++) {
      const res = await this.#request(
        url,
        // identity: a Content-Length that describes the file, not a compressed form of it.
        { method: 'HEAD', redirect: 'manual', headers: { 'accept-encoding': 'identity' } },
        signal,
        what,
        async (r) => r,
      )
      const linkedSize = Number(res.headers.get('x-linked-size') ?? Number.NaN)
      if (Number.isSafeInteger(linkedSize)) size ??= linkedSize
      sha256 ??=
        sha256Of(unquoteEtag(res.headers.get('x-linked-etag'))) ??
        sha256Of(unquoteEtag(res.headers.get('etag')))
      if (res.status >= 300 && res.status < 400) {
        const location = res.headers.get('location')
        if (!location)
          throw new RbeeError('RBEE_DOWNLOAD_FAILED', `${this.endpoint} redirected ${what} nowhere`)
        url = new URL(location, url).toString()
        if (new URL(url).origin !== this.#origin) return { url, size, sha256 }
        continue
      }
      if (!res.ok) throw hubHttpError(res.status, what, this.endpoint, this.refusedHint)
      const length = Number(res.headers.get('content-length') ?? Number.NaN)
      if (Number.isSafeInteger(length)) size ??= length
      return { url, size, sha256 }
    }
    throw new RbeeError('RBEE_DOWNLOAD_FAILED', `${this.endpoint} redirected ${what} too many times`)
  }
}
