import { isAbsolute, join, resolve } from 'node:path'
import { RbeeError } from '@rbee/common/base'
import { DEFAULT_QUEEN_URL, STREAM_IDLE_TIMEOUT_MS } from '@rbee/contracts'
import { type ParsedArgs, stringFlag } from '../cli/args.js'
import type { CliContext } from '../cli/context.js'

/** What the CLI runs with: where things live and how to reach the queen. */
export interface Settings {
  queenUrl: string
  /** Where the queen URL came from, for `rbee config`. */
  queenUrlSource: 'flag' | 'env' | 'default'
  apiKey: string | undefined
  /** Used only where the queen needs an admin key (`RBEE_ADMIN_KEY`). */
  adminKey: string | undefined
  /** Shared secret of queen, hives and workers (`RBEE_NODE_TOKEN`). */
  nodeToken: string | undefined
  /** Data dir: models, catalog, logs, the queen's pid file. */
  dataDir: string
  configDir: string
  hivesConf: string
  sshConfig: string
  /** Extra options for every `ssh`/`scp` (`RBEE_SSH_OPTIONS`). */
  sshOptions: string[]
  verbose: boolean
  /**
   * A job stream that brings nothing, not even a keep-alive, for this long is given up: the
   * queen stopped answering (`RBEE_STREAM_TIMEOUT`, seconds; 0 = never).
   */
  streamTimeoutMs: number
}

/**
 * `RBEE_STREAM_TIMEOUT` (seconds, decimals allowed) in ms.
 * @throws RbeeError `RBEE_CONFIG` naming the variable when it is not a number of seconds.
 */
function streamTimeoutMs(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === '') return STREAM_IDLE_TIMEOUT_MS
  const s = Number(raw)
  if (!/^\s*\d+(\.\d+)?\s*$/.test(raw) || !Number.isFinite(s) || s > 86_400) {
    throw new RbeeError(
      'RBEE_CONFIG',
      `RBEE_STREAM_TIMEOUT: '${raw}' is not a number of seconds (0 to 86400; 0 = wait forever)`,
    )
  }
  return Math.round(s * 1000)
}

/** Splits a shell-like option string: whitespace-separated words, `'…'`/`"…"` quoting. */
export function splitShellWords(text: string): string[] {
  const words: string[] = []
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g
  for (let m = re.exec(text); m; m = re.exec(text)) {
    words.push(m[1]?.replace(/\\(.)/g, '$1') ?? m[2] ?? m[3]!)
  }
  return words
}

function absolute(path: string, cwd: string): string {
  return isAbsolute(path) ? path : resolve(cwd, path)
}

/**
 * Resolves the settings from flags, then environment, then defaults:
 * `$RBEE_HOME` (else `$XDG_DATA_HOME/rbee`, else `~/.local/share/rbee`) and `$RBEE_CONFIG_DIR`
 * (else `$XDG_CONFIG_HOME/rbee`, else `~/.config/rbee`).
 * @throws RbeeError `RBEE_CONFIG` for a queen URL that is not http(s).
 */
export function resolveSettings(ctx: Pick<CliContext, 'env' | 'cwd' | 'home'>, args?: ParsedArgs): Settings {
  const { env } = ctx
  const fromFlag = args ? stringFlag(args, 'queen-url') : undefined
  const queenUrlRaw = fromFlag ?? DEFAULT_QUEEN_URL
  const source: Settings['queenUrlSource'] =
    fromFlag === undefined ? 'default' : args?.fromEnv.has('queen-url') ? 'env' : 'flag'
  let url: URL
  try {
    url = new URL(queenUrlRaw)
  } catch {
    throw new RbeeError('RBEE_CONFIG', `queen URL '${queenUrlRaw}' is not a URL (like ${DEFAULT_QUEEN_URL})`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new RbeeError('RBEE_CONFIG', `queen URL '${queenUrlRaw}' must start with http:// or https://`)
  }
  const dataDir = absolute(
    env.RBEE_HOME || join(env.XDG_DATA_HOME || join(ctx.home, '.local', 'share'), 'rbee'),
    ctx.cwd,
  )
  const configDir = absolute(
    env.RBEE_CONFIG_DIR || join(env.XDG_CONFIG_HOME || join(ctx.home, '.config'), 'rbee'),
    ctx.cwd,
  )
  return {
    queenUrl: url.origin,
    queenUrlSource: source,
    apiKey: (args ? stringFlag(args, 'api-key') : undefined) ?? (env.RBEE_API_KEY || undefined),
    adminKey: (args ? stringFlag(args, 'admin-key') : undefined) ?? (env.RBEE_ADMIN_KEY || undefined),
    nodeToken: env.RBEE_NODE_TOKEN || undefined,
    dataDir,
    configDir,
    hivesConf: absolute(env.RBEE_HIVES_CONF || join(configDir, 'hives.conf'), ctx.cwd),
    sshConfig: join(ctx.home, '.ssh', 'config'),
    sshOptions: splitShellWords(env.RBEE_SSH_OPTIONS ?? ''),
    verbose: args?.values.verbose === true,
    streamTimeoutMs: streamTimeoutMs(env.RBEE_STREAM_TIMEOUT),
  }
}
