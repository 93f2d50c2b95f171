import { join } from 'node:path'

/**
 * Where a hive keeps its files under `$RBEE_HOME`:
 *
 * ```text
 * $RBEE_HOME/
 *   catalog.sqlite          the model catalog
 *   models/tiny.gguf        the built-in model
 *   models/hf/<org>/<repo>/<file>.gguf   downloads
 *   models/.partial/        downloads in progress (resumable)
 *   logs/<worker_id>.log    per-worker stdout+stderr, rotated to .log.1, .log.2 …
 * ```
 */
export interface DataDir {
  home: string
  catalog: string
  models: string
  partial: string
  logs: string
}

/** The layout of a data dir rooted at `home`. */
export function dataDir(home: string): DataDir {
  const models = join(home, 'models')
  return {
    home,
    catalog: join(home, 'catalog.sqlite'),
    models,
    partial: join(models, '.partial'),
    logs: join(home, 'logs'),
  }
}
