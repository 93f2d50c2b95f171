import { type HiveConfEntry, loadHivesConf } from '@rbee/client'
import { RbeeError } from '@rbee/common/base'
import { DEFAULT_HIVE_PORT, IdSchema } from '@rbee/contracts'
import type { Settings } from '../config/settings.js'
import { resolveSshTarget, type SshTarget } from '../ssh/ssh-target.js'

/** The hives in hives.conf (aliases resolved by ssh itself later, so ~/.ssh/config is not read here). */
export function configuredHives(settings: Settings): Promise<HiveConfEntry[]> {
  return loadHivesConf(settings.hivesConf, { sshConfigPath: null })
}

/**
 * The SSH target of a hive alias: its hives.conf entry when there is one, else the alias as
 * `~/.ssh/config` (or plain DNS) knows it, with default ports and paths.
 * @throws RbeeError `RBEE_CONFIG` for an alias that cannot be a hive id or a bad hives.conf.
 */
export async function hiveTarget(
  settings: Settings,
  alias: string,
): Promise<{ target: SshTarget; fromConf: boolean }> {
  if (!IdSchema.safeParse(alias).success) {
    throw new RbeeError('RBEE_CONFIG', `"${alias}" cannot be a hive id: use letters, digits and . _ : @ -`)
  }
  const entries = await configuredHives(settings)
  const entry = entries.find((e) => e.id === alias)
  const resolved: HiveConfEntry = entry ?? {
    id: alias,
    hostname: alias,
    user: undefined,
    sshPort: 22,
    hivePort: DEFAULT_HIVE_PORT,
    binaryPath: undefined,
    line: 0,
  }
  return { target: await resolveSshTarget(resolved, settings.sshOptions), fromConf: entry !== undefined }
}
