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
 *   import/                 where model files are put for model_import (one of the import dirs)
 *   logs/<worker_id>.log    per-worker stdout+stderr, rotated to .log.1, .log.2 …
 *   cache/gpu/              GPU drivers' shader and kernel caches, shared by the workers
 * ```
 */
export interface DataDir {
  home: string
  catalog: string
  models: string
  partial: string
  /** The drop dir for imports: always one of the hive's import dirs. */
  import: string
  logs: string
  /** The GPU drivers' caches of compiled shaders and kernels (see `gpuCacheEnv`). */
  gpuCache: string
}

/** The layout of a data dir rooted at `home`. */
export function dataDir(home: string): DataDir {
  const models = join(home, 'models')
  return {
    home,
    catalog: join(home, 'catalog.sqlite'),
    models,
    partial: join(models, '.partial'),
    import: join(home, 'import'),
    logs: join(home, 'logs'),
    gpuCache: join(home, 'cache', 'gpu'),
  }
}
