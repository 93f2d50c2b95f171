import { lstat, realpath } from 'node:fs/promises'
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path'
import { RbeeError } from '@rbee/common'

/** True when `path` lies below `dir` (both absolute and normalized). */
function below(dir: string, path: string): boolean {
  const rel = relative(dir, path)
  return rel !== '' && !isAbsolute(rel) && rel.split(sep)[0] !== '..'
}

async function realOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await realpath(path)
  } catch {
    return undefined
  }
}

/**
 * The directories a hive imports model files from: its drop dir (`$RBEE_HOME/import`), its
 * models dir, and those its owner adds (`--import-dir`). A path is importable only when it
 * resolves, links followed, to a file below one of them. Every refusal reads the same, so a
 * caller cannot learn whether a file outside them exists.
 */
export class ImportDirs {
  /** As configured, absolute, the drop dir first. */
  readonly dirs: readonly string[]

  /** @param dirs - absolute or relative to the working directory; the first is the drop dir */
  constructor(dirs: readonly string[]) {
    this.dirs = [...new Set(dirs.map((d) => resolve(d)))]
  }

  /**
   * The real path of `path` when it is a file inside an import dir.
   * @throws RbeeError `RBEE_IMPORT_DENIED` (403) when it is outside them or resolves (through a
   *   link) to somewhere outside them, whether or not it exists; `RBEE_MODEL_NOT_FOUND` when it
   *   is inside one but missing.
   */
  async resolve(path: string): Promise<string> {
    const reals = (await Promise.all(this.dirs.map(realOrUndefined))).filter((d) => d !== undefined)
    const lexical = resolve(path)
    // Outside every dir by name alone: refused before the file system is asked anything.
    if (![...this.dirs, ...reals].some((d) => below(d, lexical))) throw this.denied(path)
    let real: string
    try {
      real = await realpath(lexical)
    } catch (err) {
      // Missing is worth saying only when nothing is there at all, in a directory that is
      // really inside: a dangling link may point outside, and its target is nobody's business.
      const parent = await realOrUndefined(dirname(lexical))
      const entry = await lstat(lexical).catch(() => undefined)
      if (
        entry === undefined &&
        parent !== undefined &&
        reals.some((d) => d === parent || below(d, parent))
      ) {
        throw new RbeeError('RBEE_MODEL_NOT_FOUND', `no such file: ${path}`, { cause: err })
      }
      throw this.denied(path)
    }
    if (!reals.some((d) => below(d, real))) throw this.denied(path)
    return real
  }

  /** The refusal of `path`, naming the import dirs and how to add one. */
  denied(path: string): RbeeError {
    return new RbeeError(
      'RBEE_IMPORT_DENIED',
      `cannot import ${path}: this hive imports only files inside ${this.dirs.join(', ')}; put the file there, or add its directory with --import-dir DIR (RBEE_IMPORT_DIRS) to rbee-hive, or to queen-rbee for its own hive`,
      { details: { import_dirs: this.dirs } },
    )
  }
}
