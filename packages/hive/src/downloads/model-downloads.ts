import { mkdir, rename, rm } from 'node:fs/promises'
import { basename, dirname, isAbsolute, join, relative } from 'node:path'
import { errorMessage, type Logger, RbeeError } from '@rbee/common'
import type { ModelEntry, PeerSource } from '@rbee/contracts'
import { type GgufHeader, type GgufHeaderPool, parseSplitName, splitPartNames } from '@rbee/gguf'
import type { ModelCatalog } from '../catalog/model-catalog.js'
import { type EstimateShape, estimateMemoryMb, inspectModelFile } from '../catalog/model-inspector.js'
import { checkPartCount } from '../catalog/model-parts.js'
import type { DataDir } from '../data-dir.js'
import { HIVE_DEFAULTS } from '../hive-defaults.js'
import { DEFAULT_DOWNLOAD_DISK_MARGIN_MB, DownloadSpace } from './disk-space.js'
import { type DownloadSource, hubSource, peerSource } from './download-source.js'
import { fetchFile, removePartial } from './file-fetch.js'
import type { HfHub, RemoteFile } from './hf-hub.js'
import { hfModelId, hfSource, isHfRef, parseHfRef } from './hf-ref.js'
import { chooseBySize, ggufCandidates, type SizedCandidate } from './pick-quantization.js'
import { formatBytes } from './progress-meter.js'
import { readRemoteHeader } from './remote-header.js'
import { type DownloadReporter, SharedDownload } from './shared-download.js'

/** Quantizations of a repo sized for the memory-based choice (the best by name first). */
const MAX_SIZED_CANDIDATES = 16
/** `HEAD` requests the choice may make (split models need one per part). */
const MAX_SIZE_PROBES = 64
/** HEADs in flight at once when a split model's parts are sized. */
const SIZE_PARTS_AT_ONCE = 8

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
  /**
   * The free memory of the device a model downloaded here would run on (the accelerator with the
   * most, else the CPU's), for the quantization choice; none: the best by name.
   */
  targetMemory?: () => Promise<{ freeMb: number; where: string } | undefined>
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

export type { DownloadReporter }

/**
 * `model_download`: resolves an `hf:` reference (when no file is named, the largest quantization
 * that fits the free memory of the device it will run on), streams the file — every part of a
 * split model — into `models/.partial/` with progress, from the peer hives it is given first and
 * the hub last (a source that fails mid-transfer hands over to the next, which resumes), resumes
 * interrupted transfers, checks each file's sha256 against what its source gives, validates the
 * GGUF header, renames the files into `models/hf/<org>/<repo>/` and registers the model. Cancelling removes the partial file and registers
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
    const { catalog } = this.#o
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
      const { files, from } = await this.#list(hf, this.#sources(options.sources ?? []), job)
      const candidates = ggufCandidates(files)
      file = candidates[0]
      if (file === undefined) {
        throw new RbeeError(
          'RBEE_MODEL_NOT_FOUND',
          `${hf.org}/${hf.repo} has no .gguf model (files: ${files.slice(0, 20).join(', ') || 'none'})`,
        )
      }
      file = await this.#choose(hf, candidates, job, from)
    }
    checkPartCount(file, ref)
    const later = parseSplitName(file)
    if (later && later.index > 1) {
      throw new RbeeError(
        'RBEE_BAD_REQUEST',
        `${file} is part ${later.index} of a split model: name its first part, ${splitPartNames(file)![0]}`,
      )
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

  /**
   * The quantization to download when the reference names only the repo: the largest whose
   * memory estimate fits the free memory of the device it will run on (each candidate sized by
   * a `HEAD` of each of its files, the model's shape read from one header over HTTP ranges), else
   * the best by name; the narration says why.
   */
  async #choose(
    hf: { org: string; repo: string },
    candidates: readonly string[],
    job: DownloadReporter,
    from: DownloadSource,
  ): Promise<string> {
    const byName = (why: string): string => {
      job.narrate(
        'download_pick',
        `picked ${candidates[0]} (best quantization by name among ${candidates.length}${why})`,
      )
      return candidates[0]!
    }
    if (candidates.length === 1) return byName('')
    const target = await this.#o.targetMemory?.()
    if (!target) return byName('; the free memory of this hive is not known')
    const sizeable = candidates.slice(0, MAX_SIZED_CANDIDATES)
    const files = sizeable.flatMap((c) => splitPartNames(c) ?? [c])
    if (files.length > MAX_SIZE_PROBES) return byName(`; ${files.length} files are too many to size`)
    const probes = new Map(
      await Promise.all(
        files.map(async (f) => {
          const remote = await from.hub.probe(hf.org, hf.repo, f, job.signal).catch(() => undefined)
          return [f, remote] as const
        }),
      ),
    )
    job.signal.throwIfAborted()
    const whole: Array<{ file: string; sizeBytes: number }> = []
    for (const file of sizeable) {
      const parts = (splitPartNames(file) ?? [file]).map((f) => probes.get(f)?.size)
      if (parts.some((b) => b === undefined)) continue
      whole.push({ file, sizeBytes: parts.reduce((a: number, b) => a + b!, 0) })
    }
    if (whole.length === 0) return byName(`; ${from.label} gave no sizes`)
    // Every quantization of a model has the same shape: one header (the smallest file's, read
    // with ranges) gives the KV cache and compute figures, each file its own weights; the same
    // estimate the catalog records and the queen places by.
    const smallest = whole.reduce((a, b) => (b.sizeBytes < a.sizeBytes ? b : a))
    const smallestRemote = probes.get(smallest.file)!
    let header: GgufHeader | undefined
    let basis: string
    try {
      header = await readRemoteHeader(
        from.hub,
        { ...smallestRemote, size: smallestRemote.size! },
        `${smallest.file} on ${from.label}`,
        { signal: job.signal, timeoutMs: from.hub.timeoutMs },
      )
      basis = `estimates from the GGUF header of ${smallest.file}`
    } catch (err) {
      if (job.signal.aborted) throw err
      basis = `estimates from file sizes alone: ${errorMessage(err)}`
    }
    const sized: SizedCandidate[] = whole.map((c) => ({
      ...c,
      estimateMb: estimateMemoryMb(
        header
          ? { ...header, fileSize: c.sizeBytes }
          : { path: c.file, architecture: '', fileSize: c.sizeBytes },
        this.#o.estimateShape,
        true,
      ),
    }))
    if (sized.length === 0) return byName(`; ${from.label} gave no sizes`)
    const choice = chooseBySize(sized, target.freeMb, target.where)
    job.narrate('download_pick', `picked ${choice.file}: ${choice.why}; ${basis}`)
    return choice.file
  }

  /**
   * The files of a repo, from the hub; when the hub cannot be reached (an air-gapped LAN, an
   * outage) and peers were given, from the first peer that lists the repo, saying so: the choice
   * is then among the files that peer has. A hub that answers (even 404 or 401) is believed.
   */
  async #list(
    hf: { org: string; repo: string },
    sources: readonly DownloadSource[],
    job: DownloadReporter,
  ): Promise<{ files: string[]; from: DownloadSource }> {
    const hubSrc = sources.at(-1)!
    job.narrate('download_resolve', `listing the files of ${hf.org}/${hf.repo} on ${hubSrc.hub.endpoint}`)
    try {
      return { files: await hubSrc.hub.listFiles(hf.org, hf.repo, job.signal), from: hubSrc }
    } catch (err) {
      const unreachable = err instanceof RbeeError && err.code === 'RBEE_DOWNLOAD_FAILED' && !err.details
      if (!unreachable || job.signal.aborted || sources.length === 1) throw err
      for (const peer of sources.slice(0, -1)) {
        const files = await peer.hub.listFiles(hf.org, hf.repo, job.signal).catch(() => undefined)
        if (!files) continue
        job.narrate(
          'download_resolve',
          `${errorMessage(err)}; choosing among the files of ${hf.org}/${hf.repo} that ${peer.label} has`,
        )
        return { files, from: peer }
      }
      throw err
    }
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
    const parts = splitPartNames(target.file) ?? [target.file]
    const split = parts.length > 1
    // A split model's parts sit side by side under their own names, as llama.cpp needs them to
    // read the header; a whole file keeps the one partial name it always had.
    const partialDir = split ? join(dirs.partial, id) : dirs.partial
    const partialOf = (file: string): string =>
      split ? join(partialDir, basename(file)) : join(dirs.partial, `${id}.part`)
    const finalOf = (file: string): string =>
      join(dirs.models, 'hf', target.org, target.repo, ...file.split('/'))
    await mkdir(partialDir, { recursive: true })

    // Sizes first, so progress runs over the whole model and the disk check counts every part.
    const probed = split ? await this.#sizeParts(target, parts, sources, job) : []
    const total =
      split && probed.every((p) => p?.size !== undefined)
        ? probed.reduce((sum, p) => sum + p!.size!, 0)
        : undefined
    if (split) {
      job.narrate(
        'download_parts',
        `${target.file} is part 1 of a split model: downloading all ${parts.length} parts${total === undefined ? '' : ` (${formatBytes(total)} in all)`}`,
      )
    }
    let before = 0
    let from: DownloadSource | undefined
    let firstSha256: string | undefined
    const partSha256 = new Map<string, string>()
    const removeAll = async (): Promise<void> => {
      for (const part of parts) await removePartial(partialOf(part))
      if (split) await rm(partialDir, { recursive: true, force: true })
    }
    try {
      for (const [k, file] of parts.entries()) {
        const done = before
        const fetched = await fetchFile({
          org: target.org,
          repo: target.repo,
          file,
          source,
          partial: partialOf(file),
          label: split ? `part ${k + 1} of ${parts.length}, ` : '',
          sources,
          probed: probed[k],
          space: (remote) =>
            new DownloadSpace({
              what: `${file} from ${target.org}/${target.repo}`,
              dir: dirs.models,
              partial: partialOf(file),
              total: total === undefined ? remote.size : remote.size === undefined ? undefined : total - done,
              margin: this.#o.diskMarginBytes ?? DEFAULT_DOWNLOAD_DISK_MARGIN_MB * 1024 * 1024,
              hint: () => this.#freeingHint(),
            }),
          fraction: (bytes, fraction) =>
            total ? (done + bytes) / total : split ? (k + (fraction ?? 0)) / parts.length : (fraction ?? 0),
          job,
          log,
          settings: {
            retryInitialMs: this.#o.retryInitialMs,
            stallTimeoutMs: this.#o.stallTimeoutMs,
            progressEveryMs: this.#o.progressEveryMs,
          },
        })
        before += fetched.result.size
        firstSha256 ??= fetched.result.sha256
        partSha256.set(basename(file), fetched.result.sha256)
        from = fetched.from
      }
    } catch (err) {
      // A cancelled split download keeps none of its parts (fetchFile removes a single file's).
      const reason: unknown = job.signal.reason
      const draining = reason instanceof RbeeError && reason.code === 'RBEE_DRAINING'
      if (split && job.signal.aborted && !draining) await removeAll()
      throw err
    }
    const first = partialOf(parts[0]!)
    try {
      job.signal.throwIfAborted()
      const facts = await inspectModelFile(this.#o.headers, first, this.#o.estimateShape, {
        knownSha256: firstSha256,
        knownPartSha256: partSha256,
        signal: job.signal,
      })
      job.signal.throwIfAborted()
      for (const file of parts) {
        await mkdir(dirname(finalOf(file)), { recursive: true })
        await rename(partialOf(file), finalOf(file))
        await rm(`${partialOf(file)}.json`, { force: true })
      }
      if (split) await rm(partialDir, { recursive: true, force: true })
      const entry = catalog.register({ ...facts, path: finalOf(parts[0]!), id, source, builtin: false })
      job.narrate(
        'download_done',
        `${id} is ready: ${formatBytes(entry.size_bytes)}${split ? ` in ${parts.length} parts` : ''}, ${entry.architecture} ${entry.quantization} (from ${from!.label})`,
        { progress: 1 },
      )
      return entry
    } catch (err) {
      await removeAll()
      throw err
    }
  }

  /** Each part's probe at the first source that answers for it (undefined where none did yet). */
  async #sizeParts(
    target: { org: string; repo: string },
    parts: readonly string[],
    sources: readonly DownloadSource[],
    job: DownloadReporter,
  ): Promise<Array<RemoteFile | undefined>> {
    const first = sources[0]!
    const probed: Array<RemoteFile | undefined> = []
    // A few HEADs at a time: a model of hundreds of parts must not open hundreds of connections.
    for (let i = 0; i < parts.length; i += SIZE_PARTS_AT_ONCE) {
      const batch = parts.slice(i, i + SIZE_PARTS_AT_ONCE)
      probed.push(
        ...(await Promise.all(
          batch.map((file) =>
            first.hub.probe(target.org, target.repo, file, job.signal).catch(() => undefined),
          ),
        )),
      )
      job.signal.throwIfAborted()
    }
    return probed
  }
}
