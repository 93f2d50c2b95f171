import { readFile } from 'node:fs/promises'
import { loadHivesConf } from '@rbee/client'
import { ConfigError, errorMessage, type Logger } from '@rbee/common'
import { type QueenConfig, reloadQueenKeys } from './config.js'
import { loadModelsConf } from './models-conf.js'
import type { QueenReload } from './queen.js'

/**
 * hives.conf as a reload reads it. Unlike at start, a file that is gone or blank is refused (a
 * half-written or deleted file must not drop every hive); a file of comments only means no hives.
 * @throws ConfigError or RbeeError `RBEE_CONFIG` naming the file (and line) and the problem.
 */
async function reloadHivesConf(path: string, hadHives: boolean) {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !hadHives) return []
    throw new ConfigError(`cannot read ${path}: ${errorMessage(err)}`)
  }
  if (text.trim() === '') {
    throw new ConfigError(`${path} is empty (to configure no hive, leave a # comment in it)`)
  }
  return loadHivesConf(path, { text })
}

/**
 * Re-reads what SIGHUP reloads: hives.conf, models.conf and, when the queen was given any, its key files.
 * A file that cannot be read or parsed is left out (the queen keeps what it had) and logged as
 * an error naming it; never throws.
 */
export async function readQueenReload(
  config: QueenConfig,
  running: { configuredHives: number; models: number },
  logger: Logger,
): Promise<QueenReload> {
  const next: QueenReload = {}
  try {
    // A file the queen had that is now gone is refused: deleting it must not unpin every model.
    next.models = await loadModelsConf(config.models_conf, running.models > 0)
  } catch (err) {
    logger.error(
      { file: config.models_conf, err: errorMessage(err) },
      'reload refused: models.conf kept as it was',
    )
  }
  try {
    next.hives = await reloadHivesConf(config.hives_conf, running.configuredHives > 0)
  } catch (err) {
    logger.error(
      { file: config.hives_conf, err: errorMessage(err) },
      'reload refused: hives.conf kept as it was',
    )
  }
  const s = config.key_sources
  const files = [s.api_key_file, s.admin_key_file, s.node_token_file].filter((f) => f !== undefined)
  if (files.length > 0) {
    try {
      next.keys = reloadQueenKeys(s)
    } catch (err) {
      logger.error({ files, err: errorMessage(err) }, 'reload refused: the keys are kept as they were')
    }
  }
  return next
}
