import { type Logger, parseJson, RbeeError, validationError } from '@rbee/common'
import { type ModelEntry, ModelEntrySchema } from '@rbee/contracts'
import type Database from 'better-sqlite3'
import { z } from 'zod'
import { isHfRef, parseHfRef } from '../downloads/hf-ref.js'
import { openCatalogFile, type SetAsideCatalog } from './catalog-file.js'
import { fileSha256 } from './file-sha256.js'
import type { ModelFacts } from './model-inspector.js'
import { modelFilesStat } from './model-parts.js'

/** A model to register: facts read from the file plus where it came from. */
export interface NewModel extends ModelFacts {
  id: string
  /** `builtin`, `hf:org/repo:file.gguf`, or `file:<original path>`. */
  source: string
  builtin: boolean
  /** Rebuilt from the file after the catalog was found corrupt. @default false */
  rebuilt?: boolean
}

export interface ModelCatalogOptions {
  /** The SQLite file (created with its directory's permissions when missing). */
  path: string
  logger: Logger
}

const RowSchema = z.object({
  id: z.string(),
  source: z.string(),
  path: z.string(),
  size_bytes: z.int(),
  sha256: z.string(),
  architecture: z.string(),
  parameter_count: z.int(),
  quantization: z.string(),
  context_length: z.int(),
  memory_estimate_mb: z.int(),
  added_at: z.string(),
  last_used_at: z.string().nullable(),
  builtin: z.union([z.literal(0), z.literal(1)]),
  mtime_ms: z.int(),
  rebuilt: z.union([z.literal(0), z.literal(1)]),
  parts: z.string().nullable(),
})
type Row = z.infer<typeof RowSchema>

/** A catalog row checked against the disk. */
export interface CheckedModel {
  entry: ModelEntry
  /** Why the model cannot be served (`null` when it can). */
  problem: string | null
}

/**
 * The hive's model catalog in SQLite. Rows survive restarts; every read checks the file on disk,
 * so a model whose file vanished or changed is reported as unavailable, never served.
 */
export class ModelCatalog {
  readonly #db: Database.Connection
  readonly #log: Logger
  readonly #path: string
  /** The unusable catalog file moved aside to open this one (the models need rebuilding). */
  readonly setAside: SetAsideCatalog | undefined

  /**
   * Opens (and migrates) the catalog; an unusable file is moved aside and a new one created
   * (see `openCatalogFile`).
   * @throws CatalogVersionError for a newer schema; RbeeError naming the file when it cannot be
   *   opened nor moved aside.
   */
  constructor(options: ModelCatalogOptions) {
    this.#path = options.path
    this.#log = options.logger
    const opened = openCatalogFile(options.path, options.logger)
    this.#db = opened.db
    this.setAside = opened.setAside
  }

  /**
   * Adds a model or replaces the row with the same id (and any other row for the same source).
   * @throws RbeeError `RBEE_VALIDATION` naming the field when the model is not a valid entry (too
   *   many parts, say): it is checked before the INSERT, so no row the catalog cannot read is stored.
   */
  register(model: NewModel): ModelEntry {
    const now = new Date().toISOString()
    const { mtime_ms: _, rebuilt, parts, ...facts } = model
    const valid = ModelEntrySchema.safeParse({
      ...facts,
      added_at: now,
      last_used_at: null,
      available: true,
      rebuilt: rebuilt ?? false,
      ...(parts ? { parts } : {}),
    })
    if (!valid.success) throw validationError(valid.error, `catalog entry for ${model.id}`)
    this.#db.transaction(() => {
      this.#db.prepare('DELETE FROM models WHERE source = ? AND id <> ?').run(model.source, model.id)
      this.#db
        .prepare(
          `INSERT INTO models (id, source, path, size_bytes, sha256, architecture, parameter_count, quantization,
             context_length, memory_estimate_mb, added_at, last_used_at, builtin, mtime_ms, rebuilt, parts)
           VALUES (@id, @source, @path, @size_bytes, @sha256, @architecture, @parameter_count, @quantization,
             @context_length, @memory_estimate_mb, @added_at, NULL, @builtin, @mtime_ms, @rebuilt, @parts)
           ON CONFLICT (id) DO UPDATE SET source = excluded.source, path = excluded.path,
             size_bytes = excluded.size_bytes, sha256 = excluded.sha256, architecture = excluded.architecture,
             parameter_count = excluded.parameter_count, quantization = excluded.quantization,
             context_length = excluded.context_length, memory_estimate_mb = excluded.memory_estimate_mb,
             builtin = excluded.builtin, mtime_ms = excluded.mtime_ms, rebuilt = excluded.rebuilt, parts = excluded.parts,
             added_at = CASE WHEN models.sha256 = excluded.sha256 THEN models.added_at ELSE excluded.added_at END`,
        )
        .run({
          ...model,
          builtin: model.builtin ? 1 : 0,
          rebuilt: model.rebuilt ? 1 : 0,
          parts: model.parts ? JSON.stringify(model.parts) : null,
          added_at: now,
        })
    })()
    this.#log.info({ model_id: model.id, source: model.source, path: model.path }, 'model registered')
    return toEntry(this.#row(model.id)!, null)
  }

  /** True when a row points at `path`. */
  hasPath(path: string): boolean {
    return this.#db.prepare('SELECT 1 FROM models WHERE path = ?').get(path) !== undefined
  }

  /** True when `id` is taken by a model from another source. */
  idTakenByOther(id: string, source: string): boolean {
    const row = this.#row(id)
    return row !== undefined && row.source !== source
  }

  /**
   * Finds the row a model reference names: a catalog id, an exact `hf:org/repo:file` source, or
   * for a bare `hf:org/repo` the first downloaded file of that repo. Does not check the disk.
   */
  find(ref: string): Row | undefined {
    if (!isHfRef(ref)) return this.#row(ref)
    const hf = parseHfRef(ref)
    if (hf.file !== undefined)
      return this.#parse(this.#db.prepare('SELECT * FROM models WHERE source = ?').get(ref))
    const prefix = `hf:${hf.org}/${hf.repo}:`
    const rows = this.#db
      .prepare('SELECT * FROM models WHERE substr(source, 1, ?) = ? ORDER BY added_at')
      .all(prefix.length, prefix)
    return rows.length > 0 ? this.#parse(rows[0]) : undefined
  }

  /** The entry for `ref`, checked against the disk. @throws RbeeError `RBEE_MODEL_NOT_FOUND`. */
  async get(ref: string): Promise<CheckedModel> {
    const row = this.find(ref)
    if (!row) {
      const hint = isHfRef(ref) ? ' (download it first with model_download)' : ''
      throw new RbeeError('RBEE_MODEL_NOT_FOUND', `model ${ref} is not in this hive's catalog${hint}`)
    }
    return this.#check(row)
  }

  /** Every model, each checked against the disk. */
  async list(): Promise<CheckedModel[]> {
    const rows = this.#db.prepare('SELECT * FROM models ORDER BY builtin DESC, id').all()
    return Promise.all(rows.map((r) => this.#check(this.#parse(r)!)))
  }

  /**
   * The entry for `ref` when it can be served.
   * @throws RbeeError `RBEE_MODEL_NOT_FOUND` when unknown, or when its file vanished or changed.
   */
  async servable(ref: string): Promise<ModelEntry> {
    const { entry, problem } = await this.get(ref)
    if (problem !== null) {
      throw new RbeeError(
        'RBEE_MODEL_NOT_FOUND',
        `model ${entry.id} is in the catalog but cannot be served: ${problem}; download or import it again`,
      )
    }
    return entry
  }

  /** Records that a worker started on the model. */
  markUsed(id: string): void {
    this.#db.prepare('UPDATE models SET last_used_at = ? WHERE id = ?').run(new Date().toISOString(), id)
  }

  /** Removes a row; false when there was none. */
  remove(id: string): boolean {
    return this.#db.prepare('DELETE FROM models WHERE id = ?').run(id).changes > 0
  }

  close(): void {
    if (this.#db.open) this.#db.close()
  }

  #row(id: string): Row | undefined {
    return this.#parse(this.#db.prepare('SELECT * FROM models WHERE id = ?').get(id))
  }

  #parse(raw: unknown): Row | undefined {
    if (raw === undefined) return undefined
    const parsed = RowSchema.safeParse(raw)
    if (!parsed.success) {
      throw new RbeeError(
        'RBEE_INTERNAL',
        `catalog ${this.#path} holds a malformed row: ${parsed.error.message}`,
      )
    }
    return parsed.data
  }

  async #check(row: Row): Promise<CheckedModel> {
    let problem: string | null = null
    try {
      const st = await modelFilesStat(row.path)
      if (st.size !== row.size_bytes) {
        problem = `${row.path} changed on disk (${st.size} bytes, catalog says ${row.size_bytes})`
      } else if (Math.trunc(st.mtimeMs) !== row.mtime_ms) {
        // Same size, new mtime: only the content can tell whether it changed.
        if ((await fileSha256(row.path)) === row.sha256) {
          this.#db.prepare('UPDATE models SET mtime_ms = ? WHERE id = ?').run(Math.trunc(st.mtimeMs), row.id)
        } else problem = `${row.path} changed on disk (sha256 differs from the catalog)`
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === undefined) problem = (err as Error).message
      else if (code !== 'ENOENT') throw err
      else problem = `file ${(err as NodeJS.ErrnoException).path ?? row.path} has vanished`
    }
    if (problem !== null) this.#log.warn({ model_id: row.id, problem }, 'model unavailable')
    return { entry: toEntry(row, problem), problem }
  }
}

function toEntry(row: Row, problem: string | null): ModelEntry {
  return ModelEntrySchema.parse({
    id: row.id,
    source: row.source,
    path: row.path,
    size_bytes: row.size_bytes,
    sha256: row.sha256,
    architecture: row.architecture,
    parameter_count: row.parameter_count,
    quantization: row.quantization,
    context_length: row.context_length,
    memory_estimate_mb: row.memory_estimate_mb,
    added_at: row.added_at,
    last_used_at: row.last_used_at,
    available: problem === null,
    builtin: row.builtin === 1,
    rebuilt: row.rebuilt === 1,
    ...(row.parts === null ? {} : { parts: parseJson(row.parts) }),
    ...(problem === null ? {} : { unavailable_reason: problem }),
  })
}
