import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import type { HiveConfEntry } from '@rbee/client'
import { RbeeError } from '@rbee/common/base'

const run = promisify(execFile)

/** How to reach one hive's machine over SSH. */
export interface SshTarget {
  /** The hives.conf alias (also the hive id). */
  alias: string
  /** Options that go before the destination on every ssh/scp (from hives.conf and RBEE_SSH_OPTIONS). */
  options: string[]
  /** The destination given to ssh (the alias, so ~/.ssh/config applies to it). */
  destination: string
  /** Resolved by `ssh -G`: the address, user and port ssh will really use. */
  hostname: string
  user: string
  port: number
  /** The hive's HTTP port there. */
  hivePort: number
  /** Install directory there (`BinaryPath`); `~/` is the remote home. */
  binaryPath: string
}

/** Default install directory on a remote machine. */
export const DEFAULT_BINARY_PATH = '~/.local/lib/rbee'

/** ssh options that apply what hives.conf says (HostName, User, Port) over ~/.ssh/config. */
export function sshOptionsFor(entry: HiveConfEntry, extra: readonly string[]): string[] {
  const opts = [...extra]
  if (entry.hostname !== entry.id) opts.push('-o', `HostName=${entry.hostname}`)
  if (entry.user) opts.push('-o', `User=${entry.user}`)
  if (entry.sshPort !== 22) opts.push('-o', `Port=${entry.sshPort}`)
  return opts
}

/** Parses `ssh -G` output (lowercase `keyword value` lines). */
export function parseSshG(text: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+(.*)$/.exec(line.trim())
    if (m && !out.has(m[1]!)) out.set(m[1]!, m[2]!)
  }
  return out
}

/**
 * Resolves a hives.conf entry into an SSH target: `ssh -G` applies ~/.ssh/config (Include,
 * Match, aliases) exactly as a later `ssh` will.
 * @throws RbeeError `RBEE_CONFIG` when ssh is missing or rejects the options.
 */
export async function resolveSshTarget(entry: HiveConfEntry, extra: readonly string[]): Promise<SshTarget> {
  const options = sshOptionsFor(entry, extra)
  let stdout: string
  try {
    ;({ stdout } = await run('ssh', ['-G', ...options, '--', entry.id], { timeout: 10_000 }))
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string }
    if (e.code === 'ENOENT') {
      throw new RbeeError(
        'RBEE_CONFIG',
        'ssh is not installed here (rbee uses the system ssh and scp): install openssh-client',
      )
    }
    throw new RbeeError(
      'RBEE_CONFIG',
      `ssh rejects the options for ${entry.id}: ${(e.stderr ?? e.message).trim()}`,
      {
        cause: err,
      },
    )
  }
  const g = parseSshG(stdout)
  return {
    alias: entry.id,
    options,
    destination: entry.id,
    hostname: g.get('hostname') ?? entry.hostname,
    user: g.get('user') ?? entry.user ?? 'root',
    port: Number(g.get('port') ?? entry.sshPort),
    hivePort: entry.hivePort,
    binaryPath: entry.binaryPath ?? DEFAULT_BINARY_PATH,
  }
}

/** `user@host:port` for messages. */
export function describeTarget(t: SshTarget): string {
  return `${t.user}@${t.hostname}${t.port === 22 ? '' : `:${t.port}`}`
}
