import { createReadStream, createWriteStream } from 'node:fs'
import { link, mkdir, realpath, rm, stat } from 'node:fs/promises'
import { basename, dirname, extname, join } from 'node:path'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { type JobOutcome, type QueenClient, throwIfFailed } from '@rbee/client'
import { errorMessage, formatBytes, RbeeError } from '@rbee/common/base'
import { type ImportDenied, ImportDeniedSchema, type OperationOf } from '@rbee/contracts'
import type { CliContext } from '../cli/context.js'
import type { NarrationView } from '../cli/progress-bar.js'
import type { Settings } from '../config/settings.js'
import { followJob, isLocalUrl, runOperation } from './queen-access.js'

/** How a file came to be in an import dir. */
export interface Placed {
  path: string
  /** `present`: that very file was already there (a link made before). */
  how: 'linked' | 'copied' | 'present'
}

/** Options of {@link placeInImportDir}. */
export interface PlaceOptions {
  /** Called as a copy goes (not for a link), with bytes done and the total. */
  onCopyProgress?: (done: number, total: number) => void
}

function sameFile(a: { dev: number; ino: number }, b: { dev: number; ino: number }): boolean {
  return a.dev === b.dev && a.ino === b.ino
}

async function copyWithProgress(source: string, target: string, options: PlaceOptions): Promise<void> {
  const total = (await stat(source)).size
  let done = 0
  let shown = 0
  const count = new Transform({
    transform(chunk: Buffer, _enc, next) {
      done += chunk.length
      if (done === total || done - shown >= total / 100) {
        shown = done
        options.onCopyProgress?.(done, total)
      }
      next(null, chunk)
    },
  })
  await pipeline(createReadStream(source), count, createWriteStream(target, { flags: 'wx' }))
}

/**
 * Puts `source` into `dir` under its own name: a hard link where it can (no bytes copied),
 * else, on another file system or where links are not allowed, a copy written under a temporary
 * name and linked into place. The same file already there is reused; another file of that name
 * is left alone, and the next free `name-2.gguf`, `name-3.gguf` … is used.
 * @throws the file system's error when `source` cannot be read or `dir` written.
 */
export async function placeInImportDir(
  source: string,
  dir: string,
  options: PlaceOptions = {},
): Promise<Placed> {
  // A link to a symlink would be a symlink in the import dir, leading out of it: link its target.
  const real = await realpath(source)
  const st = await stat(real)
  if (!st.isFile()) throw new Error(`${source} is not a regular file`)
  await mkdir(dir, { recursive: true })
  const ext = extname(real)
  const stem = basename(real, ext)
  for (let n = 1; ; n++) {
    const target = join(dir, n === 1 ? basename(real) : `${stem}-${n}${ext}`)
    const there = await stat(target).catch(() => undefined)
    if (there && sameFile(there, st)) return { path: target, how: 'present' }
    if (there) continue
    try {
      await link(real, target)
      return { path: target, how: 'linked' }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'EEXIST') continue
      // EXDEV: another file system; EPERM: links to files of other users are not allowed.
      if (code !== 'EXDEV' && code !== 'EPERM') throw err
    }
    const partial = join(dir, `.${basename(target)}.${process.pid}.partial`)
    try {
      await copyWithProgress(real, partial, options)
      await link(partial, target)
      return { path: target, how: 'copied' }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    } finally {
      await rm(partial, { force: true })
    }
  }
}

/**
 * True when hive `hiveId` runs on this machine: the queen is on this machine and it is the
 * queen's own hive, or one the queen reaches at a loopback address.
 */
async function hiveIsHere(client: QueenClient, settings: Settings, hiveId: string, signal: AbortSignal) {
  if (!isLocalUrl(settings.queenUrl)) return false
  if ((await client.info(signal)).local_hive === hiveId) return true
  const hive = (await client.hives(signal)).find((h) => h.id === hiveId)
  return hive !== undefined && isLocalUrl(hive.url)
}

/** The hive's `import_denied` data when the job ended refused as outside its import dirs. */
function deniedBy(
  jobId: string,
  outcome: JobOutcome,
): { error: RbeeError; denied: ImportDenied } | undefined {
  try {
    throwIfFailed(jobId, outcome)
    return undefined
  } catch (err) {
    if (!(err instanceof RbeeError) || err.code !== 'RBEE_IMPORT_DENIED') throw err
    for (const d of outcome.data.toReversed()) {
      const parsed = ImportDeniedSchema.safeParse(d.payload)
      if (d.action === 'import_denied' && parsed.success) return { error: err, denied: parsed.data }
    }
    throw err
  }
}

/**
 * Runs `model_import` of a file on the user's machine. When the hive refuses the path as outside
 * its import dirs and the hive runs on this machine, the file is linked (or copied) into the
 * hive's import dir, as the user, who can read it, and that is imported; a placed file the
 * import then refuses is removed again. What was done is said on stderr.
 * @returns the import's outcome, or `'interrupted'` after Ctrl+C.
 * @throws RbeeError the job's error; `RBEE_IMPORT_DENIED` with what to do when the file cannot
 *   be placed, or the hive is on another machine.
 */
export async function importFromThisMachine(
  ctx: CliContext,
  client: QueenClient,
  settings: Settings,
  op: OperationOf<'model_import'> & { hive_id: string },
  view: NarrationView,
  options: { quiet?: boolean } = {},
): Promise<JobOutcome | 'interrupted'> {
  const hard = new AbortController()
  const job = await client.run(op, { signal: hard.signal })
  const first = await followJob(ctx, job, hard, { view, quietNarration: options.quiet })
  if (first.interrupted) return 'interrupted'
  const refused = deniedBy(job.jobId, first.outcome)
  if (!refused) return first.outcome
  const drop = refused.denied.import_dirs[0]!
  if (!(await hiveIsHere(client, settings, op.hive_id, ctx.signal))) throw refused.error
  let placed: Placed
  try {
    placed = await placeInImportDir(op.path, drop, {
      onCopyProgress: (done, total) =>
        view.show({
          actor: 'rbee',
          action: 'import_copy',
          human: `copying ${basename(op.path)} into ${drop}: ${formatBytes(done)} / ${formatBytes(total)}`,
          progress: total === 0 ? 1 : done / total,
        }),
    })
  } catch (err) {
    throw new RbeeError(
      'RBEE_IMPORT_DENIED',
      `hive ${op.hive_id} imports only from ${refused.denied.import_dirs.join(', ')}, and rbee could not put ${op.path} in ${drop} (${errorMessage(err)}): copy it there, or start the hive with --import-dir ${dirname(op.path)}`,
      { cause: err },
    )
  }
  view.line(
    placed.how === 'present'
      ? `${op.path} is already in hive ${op.hive_id}'s import dir as ${placed.path}`
      : `${op.path} is outside hive ${op.hive_id}'s import dirs: ${placed.how} it to ${placed.path}`,
  )
  const undo = async (): Promise<void> => {
    if (placed.how !== 'present') await rm(placed.path, { force: true })
  }
  try {
    const out = await runOperation(ctx, client, { ...op, path: placed.path }, view, options)
    if (out === 'interrupted') await undo()
    return out
  } catch (err) {
    await undo()
    throw err
  }
}
