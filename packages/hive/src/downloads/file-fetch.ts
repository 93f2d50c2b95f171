import { readFile, rm, stat, writeFile } from 'node:fs/promises'
import { errorMessage, type Logger, RbeeError } from '@rbee/common'
import type { Transfer } from '@rbee/contracts'
import type { DownloadSpace } from './disk-space.js'
import type { DownloadSource } from './download-source.js'
import { hubHttpError, type RemoteFile } from './hf-hub.js'
import { formatBytes } from './progress-meter.js'
import { type DownloadResult, resumableDownload } from './resumable-download.js'
import type { DownloadReporter } from './shared-download.js'

/** What a partial download was for; a partial for anything else is discarded, not resumed. */
interface PartialMeta {
  source: string
  url_sha256: string | null
  size: number | null
}

/** One file of a repo to fetch into a partial file. */
export interface FileFetch {
  org: string
  repo: string
  /** The file in the repo. */
  file: string
  /** The catalog source the bytes are for (the same for every part of a split model). */
  source: string
  partial: string
  /** Shown before the file name in narration (`part 2 of 3, `), or ''. */
  label: string
  /** Where to fetch from, in order: peers, then the hub. */
  sources: readonly DownloadSource[]
  /** A probe already made of `sources[0]` (the download sized the whole model first). */
  probed?: RemoteFile | undefined
  space: (remote: RemoteFile) => DownloadSpace
  /** Maps this file's bytes so far to the fraction of the whole download. */
  fraction: (bytes: number, p: number | undefined) => number
  job: DownloadReporter
  log: Logger
  settings: {
    retryInitialMs: number | undefined
    stallTimeoutMs: number | undefined
    progressEveryMs: number | undefined
  }
}

/** A fetched file, checked against the sha256 its source gave. */
export interface FetchedFile {
  result: DownloadResult
  from: DownloadSource
}

/** Removes a partial file and what it was for. */
export async function removePartial(partial: string): Promise<void> {
  await rm(partial, { force: true })
  await rm(`${partial}.json`, { force: true })
}

/**
 * Fetches one file from the first source that can send it: a peer that cannot (no copy, no
 * sha256) is skipped; one that fails mid-transfer hands over to the next source, which resumes
 * from the bytes already there when its copy is the same file (same sha256 and size). The hub
 * is the last source: its failure is the download's. The bytes are checked against the sha256
 * of the source that sent the last of them; a peer's copy that does not match is discarded and
 * the next source sends the file from the start. When the hub's bytes do not match after it
 * resumed a peer's, the peer's bytes may be the bad ones: the hub is asked once more, from zero.
 * @throws as `resumableDownload`, and RbeeError `RBEE_CHECKSUM_MISMATCH`.
 */
export async function fetchFile(f: FileFetch): Promise<FetchedFile> {
  const { job } = f
  // Whether bytes a peer sent may be in the partial file (a peer that failed mid-transfer).
  let peerBytes = false
  for (let i = 0; i < f.sources.length; i++) {
    const from = f.sources[i]!
    const next = f.sources[i + 1]
    let remote: RemoteFile
    try {
      remote = i === 0 && f.probed ? f.probed : await from.hub.probe(f.org, f.repo, f.file, job.signal)
      if (from.peer && !remote.sha256) {
        throw new RbeeError('RBEE_DOWNLOAD_FAILED', 'it gives no sha256 to check its copy against')
      }
    } catch (err) {
      if (!from.peer || !next || job.signal.aborted) throw err
      job.narrate(
        'download_source_skip',
        `${from.label} cannot send ${f.file} (${errorMessage(err)}); trying ${next.label}`,
      )
      continue
    }
    let result: DownloadResult
    try {
      result = await transfer(f, from, remote)
    } catch (err) {
      const reason: unknown = job.signal.reason
      if (job.signal.aborted && reason instanceof RbeeError && reason.code === 'RBEE_DRAINING') {
        // The hive is stopping, not the user cancelling: keep the bytes for the next attempt.
        f.log.info({ partial: f.partial }, 'hive stopping; partial download kept for resume')
      } else if (job.signal.aborted) {
        await removePartial(f.partial)
        f.log.info('download cancelled; partial file removed')
      } else if (err instanceof RbeeError && err.code === 'RBEE_DISK_FULL') {
        // A full disk is no source's fault: the next one would fill it too.
      } else if (from.peer && next) {
        // The bytes so far stay: the next source resumes from them when its copy is the same.
        f.log.warn({ peer: from.peer.hive_id, err: errorMessage(err) }, 'peer failed mid-download')
        peerBytes = true
        // What went wrong, without the "run model_download again" advice: the next source goes on.
        const why =
          err instanceof RbeeError && err.code === 'RBEE_DOWNLOAD_FAILED' && err.cause ? err.cause : err
        job.narrate(
          'download_fallback',
          `${from.label} failed (${errorMessage(why)}); going on from ${next.label}`,
        )
        continue
      } else if (err instanceof RbeeError && err.code !== 'RBEE_DOWNLOAD_FAILED') {
        // 401/404 and the like: nothing worth resuming.
        await removePartial(f.partial)
      }
      throw err
    }
    if (result.resumedAt.length > 0)
      f.log.info({ resumedAt: result.resumedAt }, 'download resumed after interruptions')
    job.signal.throwIfAborted()
    if (remote.sha256 && result.sha256 !== remote.sha256) {
      await removePartial(f.partial)
      const mismatch = { expected: remote.sha256, actual: result.sha256 }
      if (from.peer && next) {
        f.log.warn(
          { peer: from.peer.hive_id, ...mismatch },
          'peer sent a file that does not match its sha256',
        )
        job.narrate(
          'download_fallback',
          `${from.label} sent a file whose sha256 does not match; going on from ${next.label}`,
        )
        peerBytes = false
        continue
      }
      if (!from.peer && peerBytes) {
        f.log.warn(mismatch, 'hub file does not match its sha256 after resuming a peer’s bytes')
        job.narrate(
          'download_fallback',
          `${f.label}${f.file} does not match its sha256 after resuming a peer's bytes; downloading it again from the hub from the start`,
        )
        peerBytes = false
        i--
        continue
      }
      throw new RbeeError(
        'RBEE_CHECKSUM_MISMATCH',
        `checksum mismatch for ${f.file}: got sha256 ${result.sha256}, ${from.peer ? from.label : 'the hub'} says ${remote.sha256}; the download was discarded`,
        { details: mismatch },
      )
    }
    if (remote.sha256)
      job.narrate('download_verify', `${f.label}sha256 verified (${result.sha256.slice(0, 12)}…)`)
    return { result, from }
  }
  throw new RbeeError('RBEE_DOWNLOAD_FAILED', `no source could send ${f.file}`)
}

/**
 * Streams one source's copy into the partial file, resuming the bytes already there when they
 * were for the same file (same source, sha256 and size).
 */
async function transfer(f: FileFetch, from: DownloadSource, remote: RemoteFile): Promise<DownloadResult> {
  const { partial, job } = f
  const metaPath = `${partial}.json`
  const meta: PartialMeta = { source: f.source, url_sha256: remote.sha256 ?? null, size: remote.size ?? null }
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
  const space = f.space(remote)
  const have = await stat(partial).then(
    (st) => st.size,
    () => 0,
  )
  await space.before(have)
  await writeFile(metaPath, JSON.stringify(meta))

  const transferOf = (completed: number): Transfer => ({
    file: f.file,
    sha256: remote.sha256 ?? null,
    completed,
    total: remote.size ?? null,
  })
  const size = remote.size === undefined ? 'size unknown' : formatBytes(remote.size)
  const check = remote.sha256 ? 'sha256 will be checked' : 'the hub gives no sha256 to check'
  const resume = have > 0 ? `, resuming at ${formatBytes(have)}` : ''
  job.narrate(
    'download_start',
    `downloading ${f.label}${f.file} of ${f.org}/${f.repo} from ${from.label} (${size}; ${check}${resume})`,
    { progress: f.fraction(have, undefined), transfer: transferOf(have) },
  )
  try {
    return await resumableDownload({
      url: remote.url,
      headers: from.hub.headersFor(remote.url),
      dest: partial,
      expectedSize: remote.size,
      signal: job.signal,
      maxAttempts: from.maxAttempts,
      retryInitialMs: f.settings.retryInitialMs,
      stallTimeoutMs: f.settings.stallTimeoutMs,
      progressEveryMs: f.settings.progressEveryMs,
      space: { check: (bytes) => space.during(bytes), full: (bytes, cause) => space.full(bytes, cause) },
      httpError: (status) =>
        hubHttpError(status, `${f.file} in ${f.org}/${f.repo}`, from.hub.endpoint, from.hub.refusedHint),
      onProgress: (p) =>
        job.narrate('download_progress', `${f.label}${f.file}: ${p.human}`, {
          progress: f.fraction(p.bytes, p.fraction),
          transfer: transferOf(p.bytes),
        }),
      onRetry: (r) =>
        job.narrate(
          'download_retry',
          `transfer interrupted at ${formatBytes(r.bytes)} (${r.error}) from ${from.label}; resuming in ${(r.delayMs / 1000).toFixed(1)} s (attempt ${r.attempt} of ${r.maxAttempts})`,
        ),
    })
  } catch (err) {
    if (err instanceof RbeeError && err.code === 'RBEE_DISK_FULL') {
      if (space.dropPartial) await removePartial(partial)
      f.log.warn({ partial, kept: !space.dropPartial, details: err.details }, 'download stopped: disk full')
    }
    throw err
  }
}
