import { existsSync, rmSync } from 'node:fs'
import type { Logger } from '@rbee/common'
import type Database from 'better-sqlite3'

/**
 * Schema migrations, applied in order. `PRAGMA user_version` records how many have run, so a
 * catalog written by an older hive is upgraded in place and one from a newer hive is refused.
 * Never edit a shipped migration; append a new one.
 */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE models (
     id                 TEXT PRIMARY KEY,
     source             TEXT NOT NULL,
     path               TEXT NOT NULL,
     size_bytes         INTEGER NOT NULL,
     sha256             TEXT NOT NULL,
     architecture       TEXT NOT NULL,
     parameter_count    INTEGER NOT NULL,
     quantization       TEXT NOT NULL,
     context_length     INTEGER NOT NULL,
     memory_estimate_mb INTEGER NOT NULL,
     added_at           TEXT NOT NULL,
     last_used_at       TEXT,
     builtin            INTEGER NOT NULL DEFAULT 0,
     mtime_ms           INTEGER NOT NULL
   );
   CREATE UNIQUE INDEX models_source ON models (source);`,
  // 1 when the row was rebuilt from the file on disk after the catalog was found corrupt.
  'ALTER TABLE models ADD COLUMN rebuilt INTEGER NOT NULL DEFAULT 0;',
  // The parts of a split model (JSON, ModelPart[]); NULL for a one-file model.
  'ALTER TABLE models ADD COLUMN parts TEXT;',
]

/** Thrown when the catalog was written by a newer hive than this one. */
export class CatalogVersionError extends Error {
  override name = 'CatalogVersionError'
}

/** Where the copy of a catalog at schema `version` is kept before it is migrated. */
export function migrationBackupPath(path: string, version: number): string {
  return `${path}.schema-${version}.bak`
}

/**
 * Brings the schema up to date inside one transaction per migration. A catalog that already
 * holds a schema is first copied, whole and consistent (`VACUUM INTO`, WAL included), to
 * {@link migrationBackupPath}: a migration that goes wrong, or a downgrade, can start from it.
 * @throws CatalogVersionError when the file's schema is newer than this code knows.
 */
export function migrate(db: Database.Connection, path: string, log?: Logger): void {
  const current = Number(db.pragma('user_version', { simple: true }))
  if (current > MIGRATIONS.length) {
    throw new CatalogVersionError(
      `catalog ${path} has schema version ${current}, newer than this rbee-hive understands (${MIGRATIONS.length}); upgrade rbee-hive`,
    )
  }
  if (current > 0 && current < MIGRATIONS.length) {
    const backup = migrationBackupPath(path, current)
    // VACUUM INTO refuses an existing file; an older copy of the same version is superseded.
    if (existsSync(backup)) rmSync(backup)
    db.prepare('VACUUM INTO ?').run(backup)
    log?.info(
      { path, backup, from: current, to: MIGRATIONS.length },
      'catalog schema backed up before migration',
    )
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!)
      db.pragma(`user_version = ${v + 1}`)
    })()
  }
}
