import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { dirname, isAbsolute, join, relative } from 'node:path'
import { errorMessage, type Logger, RbeeError } from '@rbee/common'
import type { ModelEntry, PeerSource, Transfer } from '@rbee/contracts'
import type { GgufHeaderPool } from '@rbee/gguf'
import type { ModelCatalog } from '../catalog/model-catalog.js'
import { type EstimateShape, inspectModelFile } from '../catalog/model-inspector.js'
import type { DataDir } from '../data-dir.js'
import { HIVE_DEFAULTS } from '../hive-defaults.js'
import { DEFAULT_DOWNLOAD_DISK_MARGIN_MB, DownloadSpace } from './disk-space.js'
import { type DownloadSource, hubSource, peerSource } from './download-source.js'
import { type HfHub, hubHttpError, type RemoteFile } from './hf-hub.js'
import { hfModelId, hfSource, isHfRef, parseHfRef } from './hf-ref.js'
import { pickGgufFile } from './pick-quantization.js'
import { formatBytes } from './progress-meter.js'
import { type DownloadResult, resumableDownload } from './resumable-download.js'
import { type DownloadReporter, SharedDownload } from './shared-download.js'

export interface ModelDownloadsOptions {
  hub: HfHub
  catalog: ModelCatalog
  /** Reads the finished file's GGUF header off the event loop. */
  headers: GgufHeaderPool
  dirs: DataDir
  logger: Logger
  estimateShape: EstimateShape
  /** Consecutive failed attempts before a download gives up. @default 5 */
  maxAttempts?: number
  /** @default 500 */
  retryInitialMs?: number
  /** No answer, or less than 16 KiB of the body, in this long aborts a transfer attempt. @default 30_000 */
  stallTimeoutMs?: number
  /** @default 500 */
  progressEveryMs?: number
  /**
   * Free bytes a download must leave on the models' file system, checked before it starts and as
   * it goes. @default DEFAULT_DOWNLOAD_DISK_MARGIN_MB MiB
   */
  diskMarginBytes?: number
  /** Presented to peer hives (the node token); never sent to the hub. */
  peerToken?: string | undefined
  /** Attempts at a peer's copy before going on from the next source. @default HIVE_DEFAULTS.peerMaxAttempts */
  peerMaxAttempts?: number
}

/** Options of one {@link ModelDownloads.download}. */
export interface DownloadOptions {
  /** Hives to fetch the file from before the hub, in order. */
  sources?: readonly PeerSource[] | undefined
}

/** What a partial download was for; a partial for anything else is discarded, not resumed. */
interface PartialMeta {
  source: string
  url_sha256: string | null
  size: number | null
}

export type { DownloadReporter }

/**
 * `model_download`: resolves an `hf:` reference (picking the best quantization when no file is
 * named), streams the file into `models/.partial/` with progress, resumes interrupted transfers,
 * checks the sha256 against the hub's LFS hash, validates the GGUF header, renames the file into
 * `models/hf/<org>/<repo>/` and registers it. Cancelling removes the partial file and registers
 * nothing. A download of a file already being downloaded follows that transfer (its progress,
 * then its result or error); the transfer stops only when every job following it is cancelled.
 * Free space is checked against the bytes still to download plus a margin, before and during.
 */
export class ModelDownloads {
  readonly #o: ModelDownloadsOptions
  /** Sources being downloaded now → their transfer. */
  readonly #active = new Map<string, SharedDownload<ModelEntry>>()

  constructor(options: ModelDownloadsOptions) {
    this.#o = options
  }

  async download(
    ref: string,
    job: DownloadReporter & { id: string },
    options: DownloadOptions = {},
  ): Promise<ModelEntry> {
    const { hub, catalog } = this.#o
    if (!isHfRef(ref)) {
      const found = catalog.find(ref)
      if (found) {
        job.narrate('download_skip', `${ref} is a catalog model already; nothing to download`)
        return (await catalog.get(ref)).entry
      }
      throw new RbeeError(
        'RBEE_BAD_REQUEST',
        `model_download takes hf:org/repo[:file.gguf]; ${ref} is not in the catalog`,
      )
    }
    const hf = parseHfRef(ref)
    let file = hf.file
    if (file === undefined) {
      job.narrate('download_resolve', `listing the files of ${hf.org}/${hf.repo} on ${hub.endpoint}`)
      const files = await hub.listFiles(hf.org, hf.repo, job.signal)
      file = pickGgufFile(files)
      if (file === undefined) {
        throw new RbeeError(
          'RBEE_MODEL_NOT_FOUND',
          `${hf.org}/${hf.repo} has no single-file .gguf model (files: ${files.slice(0, 20).join(', ') || 'none'})`,
        )
      }
      const ggufs = files.filter((f) => f.endsWith('.gguf')).length
      job.narrate('download_pick', `picked ${file} (best quantization among ${ggufs} GGUF files)`)
    }
    const target = { ...hf, file }
    const source = hfSource(target)

    const existing = catalog.find(source)
    if (existing) {
      const checked = await catalog.get(source)
      if (checked.problem === null) {
        job.narrate('download_skip', `${source} is already downloaded as ${checked.entry.id}`)
        return checked.entry
      }
    }
    const id = existing?.id ?? hfModelId(target, (candidate) => catalog.idTakenByOther(candidate, source))
    for (let running = this.#active.get(source); running; running = this.#active.get(source)) {
      if (!running.signal.aborted) {
        job.narrate(
          'download_follow',
          `${source} is already being downloaded by job ${running.leader}; following its progress`,
        )
        running.join(job)
        return running.result
      }
      // Everyone left that one: let it clean up, then start afresh.
      await running.result.catch(() => {})
    }
    job.signal.throwIfAborted()
    const shared = new SharedDownload<ModelEntry>(job.id)
    shared.join(job)
    this.#active.set(source, shared)
    return shared.run((reporter) =>
      this.#download(target, source, id, reporter, this.#sources(options.sources ?? [])).finally(() => {
        if (this.#active.get(source) === shared) this.#active.delete(source)
      }),
    )
  }

  /** Where to fetch from, in order: the peers, then the hub. */
  #sources(peers: readonly PeerSource[]): DownloadSource[] {
    const o = this.#o
    return [
      ...peers.map((p) =>
        peerSource(p, {
          token: o.peerToken,
          timeoutMs: o.hub.timeoutMs,
          maxAttempts: o.peerMaxAttempts ?? HIVE_DEFAULTS.peerMaxAttempts,
        }),
      ),
      hubSource(o.hub, o.maxAttempts),
    ]
  }

  /** What could be freed on the models' file system: the largest downloaded models. */
  async #freeingHint(): Promise<string> {
    const { dirs } = this.#o
    const owned = (await this.#o.catalog.list())
      .map((c) => c.entry)
      .filter((e) => {
        const rel = relative(dirs.models, e.path)
        return !e.builtin && e.available && !rel.startsWith('..') && !isAbsolute(rel)
      })
      .sort((a, b) => b.size_bytes - a.size_bytes)
      .slice(0, 3)
    const models =
      owned.length === 0
        ? ''
        : ` (largest here: ${owned.map((e) => `${e.id} ${formatBytes(e.size_bytes)}`).join(', ')})`
    return `there: delete models you do not need with rbee model rm ID${models}, or give the hive a --home with more room`
  }

  async #download(
    target: { org: string; repo: string; file: string },
    source: string,
    id: string,
    job: DownloadReporter,
    sources: readonly DownloadSource[],
  ): Promise<ModelEntry> {
    const { catalog, dirs } = this.#o
    const log = this.#o.logger.child({ model_id: id, source })
    const partial = join(dirs.partial, `${id}.part`)
    const metaPath = `${partial}.json`
    const final = join(dirs.models, 'hf', target.org, target.repo, ...target.file.split('/'))
    await mkdir(dirs.partial, { recursive: true })
    const removePartial = async (): Promise<void> => {
      await rm(partial, { force: true })
      await rm(metaPath, { force: true })
    }

    let done: { result: DownloadResult; sha256: string | undefined; from: DownloadSource } | undefined
    for (const [i, from] of sources.entries()) {
      const next = sources[i + 1]
      let remote: RemoteFile
      try {
        remote = await from.hub.probe(target.org, target.repo, target.file, job.signal)
        if (from.peer && !remote.sha256) {
          throw new RbeeError('RBEE_DOWNLOAD_FAILED', 'it gives no sha256 to check its copy against')
        }
      } catch (err) {
        if (!from.peer || !next || job.signal.aborted) throw err
        job.narrate(
          'download_source_skip',
          `${from.label} cannot send ${target.file} (${errorMessage(err)}); trying ${next.label}`,
        )
        continue
      }
      try {
        const result = await this.#transfer({ target, source, partial, metaPath, remote, from, job })
        done = { result, sha256: remote.sha256, from }
        break
      } catch (err) {
        const reason: unknown = job.signal.reason
        if (job.signal.aborted && reason instanceof RbeeError && reason.code === 'RBEE_DRAINING') {
          // The hive is stopping, not the user cancelling: keep the bytes for the next attempt.
          log.info({ partial }, 'hive stopping; partial download kept for resume')
        } else if (job.signal.aborted) {
          await removePartial()
          log.info('download cancelled; partial file removed')
        } else if (err instanceof RbeeError && err.code === 'RBEE_DISK_FULL') {
          // A full disk is no source's fault: the next one would fill it too.
          throw err
        } else if (from.peer && next) {
          // The bytes so far are kept: the next source resumes from them when its copy is the
          // same file (same sha256 and size), else starts over.
          log.warn({ peer: from.peer.hive_id, err: errorMessage(err) }, 'peer failed mid-download')
          job.narrate(
            'download_fallback',
            `${from.label} failed (${errorMessage(err)}); going on from ${next.label}`,
          )
          continue
        } else if (err instanceof RbeeError && err.code !== 'RBEE_DOWNLOAD_FAILED') {
          // 401/404 and the like: nothing worth resuming.
          await removePartial()
        }
        throw err
      }
    }
    if (!done) throw new RbeeError('RBEE_DOWNLOAD_FAILED', `no source could send ${target.file}`)
    const { result, sha256: expected, from } = done
    if (result.resumedAt.length > 0) {
      log.info({ resumedAt: result.resumedAt }, 'download resumed after interruptions')
    }
    try {
      job.signal.throwIfAborted()
      if (expected && result.sha256 !== expected) {
        throw new RbeeError(
          'RBEE_CHECKSUM_MISMATCH',
          `checksum mismatch for ${target.file}: got sha256 ${result.sha256}, ${from.label} says ${expected}; the download was discarded`,
          { details: { expected, actual: result.sha256 } },
        )
      }
      if (expected) job.narrate('download_verify', `sha256 verified (${result.sha256.slice(0, 12)}…)`)
      const facts = await inspectModelFile(this.#o.headers, partial, this.#o.estimateShape, {
        knownSha256: result.sha256,
        signal: job.signal,
      })
      job.signal.throwIfAborted()
      await mkdir(dirname(final), { recursive: true })
      await rename(partial, final)
      await rm(metaPath, { force: true })
      const entry = catalog.register({ ...facts, path: final, id, source, builtin: false })
      job.narrate(
        'download_done',
        `${id} is ready: ${formatBytes(entry.size_bytes)}, ${entry.architecture} ${entry.quantization} (from ${from.label})`,
        {
          progress: 1,
        },
      )
      return entry
    } catch (err) {
      await removePartial()
      throw err
    }
  }

  /**
   * Streams one source's copy of the file into `partial`, resuming the bytes already there when
   * they were for the same file (same source, sha256 and size).
   */
  async #transfer(t: {
    target: { org: string; repo: string; file: string }
    source: string
    partial: string
    metaPath: string
    remote: RemoteFile
    from: DownloadSource
    job: DownloadReporter
  }): Promise<DownloadResult> {
    const { target, partial, metaPath, remote, from, job } = t
    const { dirs } = this.#o
    const meta: PartialMeta = {
      source: t.source,
      url_sha256: remote.sha256 ?? null,
      size: remote.size ?? null,
    }
    const previous = await readFile(metaPath, 'utf8').then(
      (text) => JSON.parse(text) as Partial<PartialMeta>,
      () => undefined,
    )
    if (
      !previous ||
      previous.source !== meta.source ||
      previous.url_sha256 !== meta.url_sha256 ||
      previous.size !== meta.size
    ) {
      await rm(partial, { force: true })
    }
    const space = new DownloadSpace({
      what: `${target.file} from ${target.org}/${target.repo}`,
      dir: dirs.models,
      partial,
      total: remote.size,
      margin: this.#o.diskMarginBytes ?? DEFAULT_DOWNLOAD_DISK_MARGIN_MB * 1024 * 1024,
      hint: () => this.#freeingHint(),
    })
    const have = await stat(partial).then(
      (st) => st.size,
      () => 0,
    )
    await space.before(have)
    await writeFile(metaPath, JSON.stringify(meta))

    const transfer = (completed: number): Transfer => ({
      file: target.file,
      sha256: remote.sha256 ?? null,
      completed,
      total: remote.size ?? null,
    })
    const size = remote.size === undefined ? 'size unknown' : formatBytes(remote.size)
    const check = remote.sha256 ? 'sha256 will be checked' : 'the hub gives no sha256 to check'
    const resume = have > 0 ? `, resuming at ${formatBytes(have)}` : ''
    job.narrate(
      'download_start',
      `downloading ${target.file} of ${target.org}/${target.repo} from ${from.label} (${size}; ${check}${resume})`,
      { progress: 0, transfer: transfer(have) },
    )
    try {
      return await resumableDownload({
        url: remote.url,
        headers: from.hub.headersFor(remote.url),
        dest: partial,
        expectedSize: remote.size,
        signal: job.signal,
        maxAttempts: from.maxAttempts,
        retryInitialMs: this.#o.retryInitialMs,
        stallTimeoutMs: this.#o.stallTimeoutMs,
        progressEveryMs: this.#o.progressEveryMs,
        space: { check: (bytes) => space.during(bytes), full: (bytes, cause) => space.full(bytes, cause) },
        httpError: (status) =>
          hubHttpError(
            status,
            `${target.file} in ${target.org}/${target.repo}`,
            from.hub.endpoint,
            from.hub.hasToken,
          ),
        onProgress: (p) =>
          job.narrate('download_progress', `${target.file}: ${p.human}`, {
            progress: p.fraction ?? 0,
            transfer: transfer(p.bytes),
          }),
        onRetry: (r) =>
          job.narrate(
            'download_retry',
            `transfer interrupted at ${formatBytes(r.bytes)} (${r.error}) from ${from.label}; resuming in ${(r.delayMs / 1000).toFixed(1)} s (attempt ${r.attempt} of ${r.maxAttempts})`,
          ),
      })
    } catch (err) {
      if (err instanceof RbeeError && err.code === 'RBEE_DISK_FULL' && space.dropPartial) {
        await rm(partial, { force: true })
        await rm(metaPath, { force: true })
      }
      if (err instanceof RbeeError && err.code === 'RBEE_DISK_FULL') {
        this.#o.logger.warn(
          { partial, kept: !space.dropPartial, details: err.details },
          'download stopped: disk full',
        )
      }
      throw err
    }
  }
}
