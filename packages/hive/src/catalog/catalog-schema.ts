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
]

/** Thrown when the catalog was written by a newer hive than this one. */
export class CatalogVersionError extends Error {
  override name = 'CatalogVersionError'
}

/**
 * Brings the schema up to date inside one transaction per migration.
 * @throws CatalogVersionError when the file's schema is newer than this code knows.
 */
export function migrate(db: Database.Connection, path: string): void {
  const current = Number(db.pragma('user_version', { simple: true }))
  if (current > MIGRATIONS.length) {
    throw new CatalogVersionError(
      `catalog ${path} has schema version ${current}, newer than this rbee-hive understands (${MIGRATIONS.length}); upgrade rbee-hive`,
    )
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!)
      db.pragma(`user_version = ${v + 1}`)
    })()
  }
}
