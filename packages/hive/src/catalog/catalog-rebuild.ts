import { readdir } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'
import { errorMessage, type Logger } from '@rbee/common'
import { HfRefSchema } from '@rbee/contracts'
import type { GgufHeaderPool } from '@rbee/gguf'
import { hfModelId, hfSource, parseHfRef } from '../downloads/hf-ref.js'
import type { ModelCatalog } from './model-catalog.js'
import { modelIdFromFile } from './model-id.js'
import { type EstimateShape, inspectModelFile } from './model-inspector.js'
import { isLaterSplitPart } from './model-parts.js'

/** Directory levels searched below each root, and files looked at in all: a bound on the walk. */
const MAX_DEPTH = 8
const MAX_FILES = 10_000

export interface RebuildOptions {
  catalog: ModelCatalog
  /** The models dir: `hf/<org>/<repo>/<file>.gguf` are downloads, other `.gguf` files imports. */
  models: string
  /** Downloads in progress: not models, never registered. */
  partial: string
  /** Other directories whose `.gguf` files were imported (the hive's drop dir). */
  importDirs: readonly string[]
  headers: GgufHeaderPool
  shape: EstimateShape
  log: Logger
}

/** What a rebuild found. */
export interface RebuildReport {
  recovered: Array<{ id: string; source: string; path: string }>
  /** Files that look like models but could not be registered, with why. */
  skipped: Array<{ path: string; problem: string }>
}

/** The `.gguf` files under `dir` (regular files only; symlinks are not followed), sorted. */
async function ggufFiles(dir: string, skip: string, depth: number, out: string[]): Promise<void> {
  if (depth > MAX_DEPTH || out.length >= MAX_FILES) return
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => [])
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(dir, e.name)
    if (path === skip || out.length >= MAX_FILES) continue
    if (e.isDirectory()) await ggufFiles(path, skip, depth + 1, out)
    else if (e.isFile() && /\.gguf$/i.test(e.name)) out.push(path)
  }
}

/** The source and id a file had: a download when it sits where downloads go, else an import. */
function identify(
  catalog: ModelCatalog,
  models: string,
  path: string,
): { source: string; id: string | undefined } {
  const parts = relative(join(models, 'hf'), path).split(sep)
  const ref = `hf:${parts[0]}/${parts[1]}:${parts.slice(2).join('/')}`
  if (parts.length >= 3 && parts[0] !== '..' && HfRefSchema.safeParse(ref).success) {
    const target = { ...parseHfRef(ref), file: parts.slice(2).join('/') }
    const source = hfSource(target)
    return { source, id: hfModelId(target, (id) => catalog.idTakenByOther(id, source)) }
  }
  const source = `file:${path}`
  const stem = modelIdFromFile(path)
  if (stem === undefined) return { source, id: undefined }
  for (let n = 1; n <= 9; n++) {
    const id = n === 1 ? stem : `${stem.slice(0, 125)}-${n}`
    if (!catalog.idTakenByOther(id, source)) return { source, id }
  }
  return { source, id: undefined }
}

/**
 * Registers, as rebuilt entries, the model files a catalog no longer knows: every `.gguf` under
 * the models dir (downloads get back their `hf:` source and id) and the import dirs (imports get
 * an id from their file name; one given at import is lost). Each file's header is read in the
 * header pool and the file hashed, as an import does; a file that is not a usable model is
 * skipped with the reason.
 */
export async function rebuildCatalog(o: RebuildOptions): Promise<RebuildReport> {
  const report: RebuildReport = { recovered: [], skipped: [] }
  const files: string[] = []
  for (const root of [o.models, ...o.importDirs]) await ggufFiles(root, o.partial, 0, files)
  for (const path of files) {
    // A split model is registered by its first part, which reads the others.
    if (o.catalog.hasPath(path) || isLaterSplitPart(path)) continue
    const { source, id } = identify(o.catalog, o.models, path)
    if (id === undefined) {
      report.skipped.push({ path, problem: 'no catalog id can be made from its name' })
      continue
    }
    try {
      o.log.info({ path }, 'catalog rebuild: reading and hashing a model file')
      const facts = await inspectModelFile(o.headers, path, o.shape)
      o.catalog.register({ ...facts, id, source, builtin: false, rebuilt: true })
      report.recovered.push({ id, source, path })
    } catch (err) {
      report.skipped.push({ path, problem: errorMessage(err) })
    }
  }
  return report
}

/** A catalog that was found unusable at start, and what was rebuilt in its place. */
export interface CatalogRecovery extends RebuildReport {
  path: string
  movedTo: string
  problem: string
  at: string
}

/** One line for people: where the old catalog went and what came back. */
export function describeRecovery(r: CatalogRecovery): string {
  const skipped =
    r.skipped.length === 0
      ? ''
      : `; ${r.skipped.length} file(s) skipped: ${r.skipped
          .slice(0, 5)
          .map((s) => `${s.path} (${s.problem})`)
          .join(', ')}`
  return `the catalog ${r.path} was unusable (${r.problem}) and was moved to ${r.movedTo} at ${r.at}; ${r.recovered.length} model(s) were rebuilt from their files (marked rebuilt: ids given at import and last-use times are lost)${skipped}`
}
