import { existsSync, renameSync } from 'node:fs'
import { errorMessage, type Logger, RbeeError } from '@rbee/common'
import Database from 'better-sqlite3'
import { CatalogVersionError, migrate } from './catalog-schema.js'

/** A catalog file that could not be used and was moved aside (nothing is deleted). */
export interface SetAsideCatalog {
  /** The catalog's path; a fresh, empty catalog is there now. */
  path: string
  /** Where the unusable file went (its `-wal` and `-shm` files beside it, under the same name). */
  movedTo: string
  /** What was wrong with it, as SQLite said. */
  problem: string
  at: string
}

/** An open, migrated catalog database, and the file set aside to open it, if any. */
export interface OpenedCatalogFile {
  db: Database.Connection
  setAside: SetAsideCatalog | undefined
}

/**
 * SQLite's codes for a file that is not a database, is damaged, or cannot be read: the file is
 * unusable as it is, and waiting or retrying will not change that.
 */
// Not CANTOPEN: a catalog the hive may not open (owned by another user) is not damaged, and
// moving it aside would lose what it holds; that error stops the hive with its message.
const UNUSABLE = /^SQLITE_(NOTADB|CORRUPT|IOERR_READ|IOERR_SHORT_READ)/

class DamagedCatalog extends Error {
  constructor(readonly problem: string) {
    super(problem)
  }
}

function sqliteCode(err: unknown): string {
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' ? code : ''
}

/** Opens and migrates `path`, checking the file's structure first (`quick_check`). */
function open(path: string, log: Logger): Database.Connection {
  let db: Database.Connection
  try {
    db = new Database(path, { timeout: 5000 })
  } catch (err) {
    if (UNUSABLE.test(sqliteCode(err)) && existsSync(path)) throw new DamagedCatalog(errorMessage(err))
    throw err
  }
  try {
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    // A damaged page deep in the file would otherwise surface later, on some query.
    const check = String(db.pragma('quick_check', { simple: true }))
    if (check !== 'ok') throw new DamagedCatalog(`integrity check failed: ${check}`)
    migrate(db, path, log)
    return db
  } catch (err) {
    db.close()
    if (err instanceof DamagedCatalog || err instanceof CatalogVersionError) throw err
    if (UNUSABLE.test(sqliteCode(err))) throw new DamagedCatalog(errorMessage(err))
    throw err
  }
}

/** The first free `<path>.corrupt-<time>[-n]` name. */
function asideName(path: string, at: string): string {
  const base = `${path}.corrupt-${at.replace(/[:.]/g, '-')}`
  let name = base
  for (let n = 2; existsSync(name); n++) name = `${base}-${n}`
  return name
}

/**
 * Opens the catalog at `path`. A file that is not a database, is damaged or cannot be read is
 * moved aside (with its WAL) and a fresh catalog is created in its place; the caller rebuilds
 * what it can (see `rebuildCatalog`). A catalog from a newer hive is refused, never moved.
 * @throws CatalogVersionError for a newer schema; RbeeError `RBEE_INTERNAL` naming the file when
 *   it cannot be opened or moved aside.
 */
export function openCatalogFile(path: string, log: Logger): OpenedCatalogFile {
  try {
    return { db: open(path, log), setAside: undefined }
  } catch (err) {
    if (err instanceof CatalogVersionError) throw err
    if (!(err instanceof DamagedCatalog)) {
      throw new RbeeError('RBEE_INTERNAL', `cannot open the catalog ${path}: ${errorMessage(err)}`, {
        cause: err,
      })
    }
    const at = new Date().toISOString()
    const movedTo = asideName(path, at)
    try {
      renameSync(path, movedTo)
      for (const suffix of ['-wal', '-shm']) {
        if (existsSync(path + suffix)) renameSync(path + suffix, movedTo + suffix)
      }
    } catch (moveErr) {
      throw new RbeeError(
        'RBEE_INTERNAL',
        `the catalog ${path} is unusable (${err.problem}) and cannot be moved aside to ${movedTo}: ${errorMessage(moveErr)}`,
        { cause: moveErr },
      )
    }
    log.error(
      { path, moved_to: movedTo, problem: err.problem },
      'catalog unusable: moved aside, a new one is rebuilt from the model files',
    )
    try {
      return { db: open(path, log), setAside: { path, movedTo, problem: err.problem, at } }
    } catch (again) {
      throw new RbeeError(
        'RBEE_INTERNAL',
        `cannot create a new catalog ${path} (the unusable one was moved to ${movedTo}): ${errorMessage(again)}`,
        { cause: again },
      )
    }
  }
}
