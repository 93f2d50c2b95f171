import { type FileHandle, open, stat } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { finished, pipeline, Transform } from 'node:stream'
import { RbeeError, ROUTE_ACCESS } from '@rbee/common'
import { HfRefSchema, PEER_HUB_PATH } from '@rbee/contracts'
import { parseSplitName, splitPartNames } from '@rbee/gguf'
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { ModelCatalog } from '../catalog/model-catalog.js'

export interface PeerHubOptions {
  catalog: () => ModelCatalog | undefined
  /** Files sent at the same time; one more gets 503 with `Retry-After`. */
  maxTransfers: number
  /** Counts what is sent and refused (the hive's metrics). */
  metrics?: { sent: (bytes: number) => void; busy: () => void }
}

/** A single `bytes=a-b` / `bytes=a-` / `bytes=-n` range, resolved against `size`. */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined
  const m = /^bytes=(\d{0,16})-(\d{0,16})$/.exec(header.trim())
  // Several ranges, or another unit: the whole file (a server may ignore Range).
  if (!m || (m[1] === '' && m[2] === '')) return undefined
  if (m[1] === '') {
    const n = Number(m[2])
    if (n === 0) return 'unsatisfiable'
    return { start: Math.max(0, size - n), end: size - 1 }
  }
  const start = Number(m[1])
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1)
  if (start >= size || end < start) return 'unsatisfiable'
  return { start, end }
}

/**
 * The file a peer asks for, when the catalog lists it intact: a model's file, or a part of a
 * split model registered by its first part (beside it, with the size and sha256 recorded).
 * @throws RbeeError `RBEE_MODEL_NOT_FOUND` for anything else.
 */
async function servedFile(
  catalog: ModelCatalog,
  org: string,
  repo: string,
  file: string,
): Promise<{ path: string; size: number; sha256: string }> {
  const missing = new RbeeError('RBEE_MODEL_NOT_FOUND', `this hive has no intact ${file} of ${org}/${repo}`)
  const split = parseSplitName(file)
  const first = split ? splitPartNames(file)![0]! : file
  const source = `hf:${org}/${repo}:${first}`
  const checked = catalog.find(source) && (await catalog.get(source))
  if (!checked || checked.problem !== null || checked.entry.source !== source) throw missing
  const { entry } = checked
  if (!entry.parts) {
    if (file !== first) throw missing
    return { path: entry.path, size: entry.size_bytes, sha256: entry.sha256 }
  }
  const part = entry.parts[split ? split.index - 1 : -1]
  if (!part || part.file !== basename(file)) throw missing
  const path = join(dirname(entry.path), part.file)
  // The catalog checked the parts' total; this part must still be the one it recorded.
  if ((await stat(path).catch(() => undefined))?.size !== part.size_bytes) throw missing
  return { path, size: part.size_bytes, sha256: part.sha256 }
}

/**
 * Opens a file to send before any byte of the answer goes out, so a file deleted since the
 * catalog checked it is a 404, not a response cut short.
 * @throws RbeeError `RBEE_NOT_FOUND` when the file is gone.
 */
async function openServed(path: string, file: string): Promise<FileHandle> {
  try {
    return await open(path, 'r')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    throw new RbeeError('RBEE_NOT_FOUND', `${file} was removed from this hive`, { cause: err })
  }
}

/**
 * Serves the hive's downloaded models to other hives, read-only, in the Hugging Face hub's URL
 * shape under `PEER_HUB_PATH`, so a peer downloads from here with the same code (and the same
 * resume and sha256 check) it uses for the hub: the repo listing names the files of that repo
 * this hive has; a resolve URL answers with the bytes (`Range` honoured) and the sha256 the
 * catalog recorded as `ETag` / `X-Linked-Etag`. Only files the catalog lists, from a Hugging
 * Face source, and still intact on disk are served; every other name is a 404 (a malformed one
 * a 400), so no path reaches the file system. Node token only.
 */
export function registerPeerHubRoutes(app: FastifyInstance, o: PeerHubOptions): void {
  let active = 0
  const catalog = (): ModelCatalog => {
    const c = o.catalog()
    if (!c) throw new RbeeError('RBEE_NOT_READY', 'the hive is starting', { retryAfterS: 1 })
    return c
  }

  app.get<{ Params: { org: string; repo: string } }>(
    `${PEER_HUB_PATH}/api/models/:org/:repo`,
    ROUTE_ACCESS.node,
    async (req) => {
      const { org, repo } = req.params
      const prefix = `hf:${org}/${repo}:`
      const siblings = (await catalog().list())
        .filter((c) => c.problem === null && c.entry.source.startsWith(prefix))
        .flatMap((c) => {
          const file = c.entry.source.slice(prefix.length)
          return (c.entry.parts ? (splitPartNames(file) ?? [file]) : [file]).map((rfilename) => ({
            rfilename,
          }))
        })
      if (siblings.length === 0) {
        throw new RbeeError('RBEE_MODEL_NOT_FOUND', `this hive has no file of ${org}/${repo}`)
      }
      return { id: `${org}/${repo}`, siblings }
    },
  )

  const serve = async (
    params: { org: string; repo: string; '*': string },
    range: string | undefined,
    head: boolean,
    reply: FastifyReply,
  ): Promise<FastifyReply> => {
    const ref = HfRefSchema.safeParse(`hf:${params.org}/${params.repo}:${params['*']}`)
    if (!ref.success) {
      throw new RbeeError('RBEE_BAD_REQUEST', `not a model file name: ${ref.error.issues[0]?.message}`)
    }
    const { path, size, sha256 } = await servedFile(catalog(), params.org, params.repo, params['*'])
    const r = parseRange(range, size)
    const sending = !head && size > 0 && r !== 'unsatisfiable'
    // Refused before any header of the file is set: the 503 says nothing about the file.
    if (sending && active >= o.maxTransfers) {
      o.metrics?.busy()
      throw new RbeeError(
        'RBEE_BUSY',
        `this hive is already sending ${active} model files to peers (at most ${o.maxTransfers})`,
        { retryAfterS: 2 },
      )
    }
    let file: FileHandle | undefined
    if (sending) {
      // The slot is taken before the next await and given back when the response is done,
      // however it ends: `finished` also calls back for a peer that hung up while the catalog
      // was checked. The file is opened before any header is set, so a 404 says only that.
      active++
      finished(reply.raw, () => active--)
      file = await openServed(path, params['*'])
    }
    reply.headers({
      'accept-ranges': 'bytes',
      'content-type': 'application/octet-stream',
      etag: `"${sha256}"`,
      'x-linked-etag': `"${sha256}"`,
      'x-linked-size': String(size),
    })
    if (r === 'unsatisfiable') {
      return reply.code(416).header('content-range', `bytes */${size}`).send()
    }
    const { start, end } = r ?? { start: 0, end: size - 1 }
    reply.code(r ? 206 : 200).header('content-length', String(Math.max(0, end - start + 1)))
    if (r) reply.header('content-range', `bytes ${start}-${end}/${size}`)
    if (!file) return reply.send()
    const counted = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        o.metrics?.sent(chunk.length)
        done(null, chunk)
      },
    })
    // pipeline: a read error destroys what fastify sends, closing the socket; it closes the file.
    return reply.send(
      pipeline(file.createReadStream({ start, end, highWaterMark: 1024 * 1024 }), counted, () => {}),
    )
  }

  app.route<{ Params: { org: string; repo: string; '*': string }; Headers: { range?: string } }>({
    method: ['GET', 'HEAD'],
    url: `${PEER_HUB_PATH}/:org/:repo/resolve/main/*`,
    ...ROUTE_ACCESS.node,
    handler: (req, reply) => serve(req.params, req.headers.range, req.method === 'HEAD', reply),
  })
}
