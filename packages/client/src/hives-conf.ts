import { readFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { RbeeError } from '@rbee/common/base'
import { DEFAULT_HIVE_PORT, HostSchema, hostPortUrl, IdSchema } from '@rbee/contracts'

/** Port a hive listens on unless `HivePort` says otherwise. */

/** One hive from `hives.conf`, after defaults and `~/.ssh/config` aliases are applied. */
export interface HiveConfEntry {
  /** The `Host` alias; also the hive's id. */
  id: string
  /** Address of the machine (`HostName`, else the alias). */
  hostname: string
  /** SSH user (`User`). */
  user: string | undefined
  /** SSH port (`Port`). @default 22 */
  sshPort: number
  /** The hive's HTTP port (`HivePort`). @default DEFAULT_HIVE_PORT (7835) */
  hivePort: number
  /** Where `rbee-hive` lives on that machine (`BinaryPath`). */
  binaryPath: string | undefined
  /** Line of the `Host` entry, for messages. */
  line: number
}

export interface ParseHivesConfOptions {
  /** File name used in error messages. @default 'hives.conf' */
  source?: string
  /**
   * Unknown keywords are errors (a typo in hives.conf should not pass silently). Off for
   * `~/.ssh/config`, which has many keywords rbee does not use. @default true
   */
  strict?: boolean
}

const KEYWORDS = new Map(
  ['Host', 'HostName', 'User', 'Port', 'HivePort', 'BinaryPath'].map((k) => [k.toLowerCase(), k]),
)

interface Block {
  patterns: string[]
  line: number
  values: Map<string, { value: string; line: number }>
}

function configError(source: string, line: number, message: string): RbeeError {
  return new RbeeError('RBEE_CONFIG', `${source}:${line}: ${message}`)
}

/** Splits `Keyword value`, `Keyword=value` or `Keyword = "quoted value"`. */
function splitLine(raw: string): { keyword: string; args: string[] } | undefined {
  const line = raw.trim()
  if (line === '' || line.startsWith('#')) return undefined
  const m = /^([A-Za-z]+)\s*(?:=\s*|\s+)(.*)$/.exec(line)
  if (!m) return { keyword: line, args: [] }
  const args: string[] = []
  const re = /"([^"]*)"|(\S+)/g
  for (let a = re.exec(m[2]!); a; a = re.exec(m[2]!)) {
    if (a[2]?.startsWith('#')) break
    args.push(a[1] ?? a[2]!)
  }
  return { keyword: m[1]!, args }
}

function parseBlocks(text: string, source: string, strict: boolean): Block[] {
  // Options before the first Host line apply to every host, as in ssh_config.
  const blocks: Block[] = [{ patterns: ['*'], line: 0, values: new Map() }]
  text.split(/\r?\n/).forEach((raw, i) => {
    const lineNo = i + 1
    const parsed = splitLine(raw)
    if (!parsed) return
    const key = parsed.keyword.toLowerCase()
    if (!KEYWORDS.has(key)) {
      if (strict) {
        throw configError(
          source,
          lineNo,
          `unknown keyword "${parsed.keyword}" (known: ${[...KEYWORDS.values()].join(', ')})`,
        )
      }
      return
    }
    if (parsed.args.length === 0) throw configError(source, lineNo, `${KEYWORDS.get(key)} needs a value`)
    if (key === 'host') {
      blocks.push({ patterns: parsed.args, line: lineNo, values: new Map() })
      return
    }
    if (parsed.args.length > 1 && key !== 'binarypath') {
      throw configError(source, lineNo, `${KEYWORDS.get(key)} takes one value`)
    }
    const block = blocks.at(-1)!
    // First value wins, as in ssh_config.
    if (!block.values.has(key)) block.values.set(key, { value: parsed.args.join(' '), line: lineNo })
  })
  return blocks
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.')
  return new RegExp(`^${body}$`, 'i')
}

/** ssh_config matching: any positive pattern matches and no negated (`!pat`) one does. */
function blockMatches(block: Block, alias: string): boolean {
  let hit = false
  for (const p of block.patterns) {
    if (p.startsWith('!')) {
      if (globToRegExp(p.slice(1)).test(alias)) return false
    } else if (globToRegExp(p).test(alias)) hit = true
  }
  return hit
}

const isWildcard = (p: string): boolean => /[*?!]/.test(p)

function lookup(blocks: Block[], alias: string): Map<string, { value: string; line: number }> {
  const out = new Map<string, { value: string; line: number }>()
  for (const b of blocks) {
    if (!blockMatches(b, alias)) continue
    for (const [k, v] of b.values) if (!out.has(k)) out.set(k, v)
  }
  return out
}

function port(
  source: string,
  v: { value: string; line: number } | undefined,
  def: number,
  what: string,
): number {
  if (!v) return def
  const n = /^\d+$/.test(v.value) ? Number(v.value) : Number.NaN
  if (!(n >= 1 && n <= 65535)) throw configError(source, v.line, `${what} must be a port number 1-65535`)
  return n
}

/**
 * Parses `hives.conf` (SSH-config style): every `Host` alias without wildcards is a hive, and
 * blocks with wildcards (`Host *`) supply defaults, first value winning as in ssh_config.
 *
 * ```
 * Host gpu-box
 *     HostName 10.0.0.12
 *     User vince
 *     HivePort 7835
 *     BinaryPath ~/.local/bin/rbee-hive
 * ```
 * @throws RbeeError `RBEE_CONFIG` naming the file, line and problem.
 */
export function parseHivesConf(text: string, options: ParseHivesConfOptions = {}): HiveConfEntry[] {
  const source = options.source ?? 'hives.conf'
  const blocks = parseBlocks(text, source, options.strict ?? true)
  const seen = new Map<string, HiveConfEntry>()
  for (const block of blocks) {
    for (const alias of block.patterns) {
      if (isWildcard(alias) || seen.has(alias)) continue
      const id = IdSchema.safeParse(alias)
      if (!id.success) {
        throw configError(
          source,
          block.line,
          `Host "${alias}" is not a usable hive id: ${id.error.issues[0]?.message}`,
        )
      }
      const v = lookup(blocks, alias)
      const hostValue = v.get('hostname')
      const hostname = (hostValue?.value ?? alias).replace(/%h/g, alias)
      if (!HostSchema.safeParse(hostname).success) {
        throw configError(
          source,
          hostValue?.line ?? block.line,
          `HostName "${hostname}" is not a host name or address`,
        )
      }
      seen.set(alias, {
        id: alias,
        hostname,
        user: v.get('user')?.value,
        sshPort: port(source, v.get('port'), 22, 'Port'),
        hivePort: port(source, v.get('hiveport'), DEFAULT_HIVE_PORT, 'HivePort'),
        binaryPath: v.get('binarypath')?.value,
        line: block.line,
      })
    }
  }
  return [...seen.values()]
}

/**
 * Fills in what `hives.conf` left unset (`HostName`, `User`, `Port`) from `~/.ssh/config`, so a
 * hive may be named by an SSH alias the user already has.
 */
export function applySshConfig(entries: readonly HiveConfEntry[], sshConfigText: string): HiveConfEntry[] {
  const blocks = parseBlocks(sshConfigText, 'ssh_config', false)
  return entries.map((e) => {
    const v = lookup(blocks, e.id)
    const hostName = v.get('hostname')?.value.replace(/%h/g, e.id)
    return {
      ...e,
      hostname:
        e.hostname === e.id && hostName && HostSchema.safeParse(hostName).success ? hostName : e.hostname,
      user: e.user ?? v.get('user')?.value,
      sshPort: e.sshPort === 22 ? port('ssh_config', v.get('port'), 22, 'Port') : e.sshPort,
    }
  })
}

/** The URL the queen reaches a configured hive at. */
export function hiveConfUrl(entry: Pick<HiveConfEntry, 'hostname' | 'hivePort'>): string {
  return hostPortUrl(entry.hostname, entry.hivePort)
}

/** `$RBEE_CONFIG_DIR/hives.conf`, else `$XDG_CONFIG_HOME/rbee/hives.conf`, else `~/.config/rbee/hives.conf`. */
export function defaultHivesConfPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.RBEE_CONFIG_DIR) return join(env.RBEE_CONFIG_DIR, 'hives.conf')
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'rbee', 'hives.conf')
}

async function readIfPresent(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new RbeeError('RBEE_CONFIG', `cannot read ${path}: ${(err as Error).message}`, { cause: err })
  }
}

/**
 * Reads and parses a `hives.conf`; a missing file means no hives. Aliases are resolved through
 * `sshConfigPath` (default `~/.ssh/config`) when that file exists.
 */
export async function loadHivesConf(
  path: string,
  options: { sshConfigPath?: string | null; text?: string } = {},
): Promise<HiveConfEntry[]> {
  // `text`: the file's content already read (a reload that checked it), so it is read once.
  const text = options.text ?? (await readIfPresent(path))
  if (text === undefined) return []
  const entries = parseHivesConf(text, { source: path })
  const sshPath =
    options.sshConfigPath === undefined ? join(homedir(), '.ssh', 'config') : options.sshConfigPath
  if (sshPath === null) return entries
  const ssh = await readIfPresent(sshPath)
  return ssh === undefined ? entries : applySshConfig(entries, ssh)
}
