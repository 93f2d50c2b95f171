import { errorMessage, type Logger, readSecretFile } from '@rbee/common'
import type { HiveConfig } from './config.js'

/**
 * What SIGHUP reloads on a hive: its node token file, re-read and checked. The token itself
 * cannot change while the hive runs (the queen and this hive's workers hold the one it started
 * with), so a changed one is refused, as is a file that can no longer be read or holds no token,
 * each with an error naming the file; the running token is kept. Never logs a token; never throws.
 */
export function reloadHiveFiles(config: HiveConfig, logger: Logger): void {
  const file = config.token_file
  if (file === undefined) {
    logger.info('SIGHUP: nothing to reload (the hive was given no --token-file); still serving')
    return
  }
  let token: string | undefined
  try {
    token = readSecretFile(file, 'node token')[0]
  } catch (err) {
    logger.error({ file, err: errorMessage(err) }, 'reload refused: the node token file is kept as it was')
    return
  }
  if (token !== config.token) {
    logger.error(
      { file },
      'the node token changed in its file: refused, the running one is kept (the queen and the workers hold it); restart queen, hives and workers with the new one',
    )
    return
  }
  logger.info({ file }, 'node token file reloaded: unchanged')
}
