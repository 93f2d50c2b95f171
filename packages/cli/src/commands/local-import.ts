import { createReadStream, createWriteStream } from 'node:fs'
import { link, mkdir, realpath, rm, stat } from 'node:fs/promises'
import { basename, dirname, extname, join } from 'node:path'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { type JobOutcome, type QueenClient, throwIfFailed } from '@rbee/client'
import { errorMessage, formatBytes, RbeeError } from '@rbee/common/base'
import { type ImportDenied, ImportDeniedSchema, type OperationOf } from '@rbee/contracts'
import { parseSplitName, splitPartNames } from '@rbee/gguf'
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
 * Puts the file `real` (a resolved path, `st` its stat) at `target`: a hard link where it can,
 * else a copy written under a temporary name and linked into place. `present` when that very
 * file is there already, `taken` when another file is.
 */
async function placeAt(
  real: string,
  st: { dev: number; ino: number },
  target: string,
  options: PlaceOptions,
): Promise<Placed['how'] | 'taken'> {
  const there = await stat(target).catch(() => undefined)
  if (there) return sameFile(there, st) ? 'present' : 'taken'
  try {
    await link(real, target)
    return 'linked'
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST') return 'taken'
    // EXDEV: another file system; EPERM: links to files of other users are not allowed.
    if (code !== 'EXDEV' && code !== 'EPERM') throw err
  }
  const partial = join(dirname(target), `.${basename(target)}.${process.pid}.partial`)
  try {
    await copyWithProgress(real, partial, options)
    await link(partial, target)
    return 'copied'
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    return 'taken'
  } finally {
    await rm(partial, { force: true })
  }
}

async function regularFile(path: string): Promise<{ real: string; st: { dev: number; ino: number } }> {
  // A link to a symlink would be a symlink in the import dir, leading out of it: link its target.
  const real = await realpath(path)
  const st = await stat(real)
  if (!st.isFile()) throw new Error(`${path} is not a regular file`)
  return { real, st }
}

/**
 * Puts `source` into `dir` under its own name: a hard link where it can (no bytes copied),
 * else, on another file system or where links are not allowed, a copy written under a temporary
 * name and linked into place. The same file already there is reused; another file of that name
 * is left alone, and the next free `name-2.gguf`, `name-3.gguf` … is used. The first part of a
 * split model (`name-00001-of-00003.gguf`) brings every part, side by side under their own names
 * (llama.cpp finds them so), into `dir` or, when another file takes one of the names, into
 * `dir/name-2/` …; `parts` lists the paths placed.
 * @throws the file system's error when `source` (or a part beside it) cannot be read or `dir`
 *   written.
 */
export async function placeInImportDir(
  source: string,
  dir: string,
  options: PlaceOptions = {},
): Promise<Placed & { parts: string[] }> {
  const first = await regularFile(source)
  await mkdir(dir, { recursive: true })
  const ext = extname(first.real)
  const stem = basename(first.real, ext)
  const names = splitPartNames(basename(first.real))
  if (names && parseSplitName(basename(first.real))?.index === 1) {
    const parts = await Promise.all(names.map((n) => regularFile(join(dirname(first.real), n))))
    for (let n = 1; ; n++) {
      const sub = n === 1 ? dir : join(dir, `${stem}-${n}`)
      await mkdir(sub, { recursive: true })
      const placed: Array<{ path: string; how: Placed['how'] }> = []
      let taken = false
      for (const [i, part] of parts.entries()) {
        const target = join(sub, names[i]!)
        const how = await placeAt(part.real, part.st, target, options)
        if (how === 'taken') {
          taken = true
          break
        }
        placed.push({ path: target, how })
      }
      if (!taken) {
        const how = placed.every((p) => p.how === 'present') ? 'present' : placed[0]!.how
        return {
          path: placed[0]!.path,
          how,
          parts: placed.filter((p) => p.how !== 'present').map((p) => p.path),
        }
      }
      // Another model's part has one of the names here: undo this try, use the next directory.
      for (const p of placed) if (p.how !== 'present') await rm(p.path, { force: true })
    }
  }
  for (let n = 1; ; n++) {
    const target = join(dir, n === 1 ? basename(first.real) : `${stem}-${n}${ext}`)
    const how = await placeAt(first.real, first.st, target, options)
    if (how !== 'taken') return { path: target, how, parts: how === 'present' ? [] : [target] }
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
  let placed: Placed & { parts: string[] }
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
    for (const part of placed.parts) await rm(part, { force: true })
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
