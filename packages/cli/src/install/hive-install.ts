import { randomBytes } from 'node:crypto'
import type { QueenClient } from '@rbee/client'
import { delay, errorMessage, RbeeError } from '@rbee/common/base'
import { hostPortUrl } from '@rbee/contracts'
import { shQuote } from '../ssh/sh-quote.js'
import type { SshRunner } from '../ssh/ssh-runner.js'
import { describeTarget } from '../ssh/ssh-target.js'
import { planBundle, writeBundle } from './bundle.js'
import { probeRemote, type RemoteFacts } from './remote-probe.js'
import {
  envFileText,
  HOME_SCRIPT,
  installRoot,
  installScriptText,
  logTailText,
  type RemoteLayout,
  remoteLayout,
  uninstallScriptText,
} from './remote-scripts.js'

export interface InstallHiveOptions {
  ssh: SshRunner
  queen: QueenClient
  /** The queen URL the hive is given (reachable from that machine). */
  queenUrlForHive: string
  nodeToken: string
  version: string
  /** Progress lines for the user. */
  onStep: (line: string) => void
  signal?: AbortSignal
  /** How long to wait for the queen to see the hive. @default 90_000 */
  onlineTimeoutMs?: number
}

/** What an install did. */
export interface InstallResult {
  hiveId: string
  hiveUrl: string
  mode: 'systemd' | 'detached'
  npmInstall: boolean
  bundleBytes: number
  layout: RemoteLayout
}

/**
 * The layout of an install on a machine whose facts are known.
 * @throws RbeeError `RBEE_CONFIG` for a `BinaryPath` rbee cannot own (see `installRoot`).
 */
export function layoutFor(binaryPath: string, facts: Pick<RemoteFacts, 'home' | 'node'>): RemoteLayout {
  return remoteLayout(installRoot(binaryPath, facts.home), facts.home, facts.node.execPath)
}

/** The remote home directory (`$HOME` there). */
export async function remoteHome(ssh: SshRunner, signal?: AbortSignal): Promise<string> {
  const r = await ssh.script(HOME_SCRIPT, { timeoutMs: 30_000, signal })
  const home = r.stdout.replace(/\n$/, '')
  if (r.code !== 0 || !home.startsWith('/'))
    throw new RbeeError('RBEE_UPSTREAM', `${ssh.target.alias} did not say where its home is`)
  return home
}

/** The layout of an existing install, without probing Node (start/stop/logs/uninstall). */
export async function existingLayout(ssh: SshRunner, signal?: AbortSignal): Promise<RemoteLayout> {
  const home = await remoteHome(ssh, signal)
  return remoteLayout(installRoot(ssh.target.binaryPath, home), home, 'node')
}

/**
 * Installs rbee-hive on a machine over SSH and waits until the queen sees it online:
 * probe (reachability, key, Node ≥ 20, systemd, GPUs), bundle, copy, unpack, settings,
 * start (systemd user unit, else detached with a pid file).
 * @throws RbeeError with what to do for each failure.
 */
export async function installHive(o: InstallHiveOptions): Promise<InstallResult> {
  const { ssh, onStep } = o
  const t = ssh.target
  onStep(`checking ${t.alias} (${describeTarget(t)}) over ssh`)
  const facts = await probeRemote(ssh, o.signal)
  const layout = layoutFor(t.binaryPath, facts)
  onStep(
    `${t.alias}: Node ${facts.node.version} (${facts.node.platform}-${facts.node.arch}), ${facts.systemdUser ? 'systemd user manager' : 'no systemd user manager'}${facts.cuda ? ', NVIDIA GPU' : ''}`,
  )
  const plan = planBundle({
    platform: facts.node.platform,
    arch: facts.node.arch,
    modules: facts.node.modules,
    cuda: facts.cuda,
    vulkan: facts.vulkan,
  })
  if (!plan.withNodeModules) {
    if (!facts.hasNpm) {
      throw new RbeeError(
        'RBEE_CONFIG',
        `cannot ship this machine's node_modules to ${t.alias}: ${plan.npmReason}; and npm is not installed there to fetch its own (install npm there, or install from a machine like it)`,
      )
    }
    onStep(`note: ${t.alias} will run npm install --omit=dev (it needs registry access): ${plan.npmReason}`)
  }
  const bundle = await writeBundle(plan, o.version)
  try {
    onStep(
      `bundle: ${(bundle.bytes / 1024 / 1024).toFixed(1)} MiB (${plan.packages.length} rbee packages, ${plan.modules.length} dependencies${plan.skipped.length ? `; left out: ${plan.skipped.join(', ')}` : ''})`,
    )
    const upload = `${facts.home}/.rbee-hive-${randomBytes(4).toString('hex')}.tar.gz`
    onStep(`copying the bundle to ${t.alias} over ssh`)
    await o.ssh.copy(bundle.file, upload, { signal: o.signal })
    const hiveUrl = hostPortUrl(t.hostname, t.hivePort)
    const env = envFileText({
      RBEE_HOST: '0.0.0.0',
      RBEE_PORT: String(t.hivePort),
      RBEE_HIVE_ID: t.alias,
      RBEE_QUEEN_URL: o.queenUrlForHive,
      RBEE_ADVERTISE_URL: hiveUrl,
      RBEE_NODE_TOKEN: o.nodeToken,
    })
    const script = installScriptText({
      layout,
      tarball: upload,
      env,
      npmInstall: !plan.withNodeModules,
      systemd: facts.systemdUser,
      packages: plan.packages.map((p) => p.short),
    })
    let pending = ''
    const result = await ssh.script(script, {
      timeoutMs: 600_000,
      signal: o.signal,
      onStdout: (chunk) => {
        const lines = (pending + chunk).split('\n')
        pending = lines.pop() ?? ''
        for (const line of lines) {
          const m = /^RBEE_(STEP|NOTE) (.*)$/.exec(line.trim())
          if (m && m[2] !== 'done') onStep(m[1] === 'NOTE' ? `note: ${m[2]}` : m[2]!)
        }
      },
    })
    if (result.code !== 0) {
      await ssh.exec(['rm', '-f', shQuote(upload)]).catch(() => {})
      throw new RbeeError(
        'RBEE_CONFIG',
        `installing on ${t.alias} failed (exit code ${result.code}): ${result.stderr.trim().split('\n').slice(-5).join(' | ')}`,
      )
    }
    onStep(`waiting for the queen to see hive ${t.alias} (the hive reaches it at ${o.queenUrlForHive})`)
    await waitForHiveOnline(o.queen, t.alias, o.onlineTimeoutMs ?? 90_000, o.signal).catch(
      async (err: unknown) => {
        const tail = await ssh.script(logTailText(layout, 15)).then(
          (r) => r.stdout.trim(),
          () => '',
        )
        throw new RbeeError(
          'RBEE_HIVE_OFFLINE',
          `hive ${t.alias} was installed and started, but the queen does not see it online (${errorMessage(err)}). Can ${t.hostname} reach the queen at ${o.queenUrlForHive} (firewall, --queen-url-for-hives), and is the node token the queen's?${tail ? `\nIts log ends:\n${tail}` : ''}`,
          { cause: err },
        )
      },
    )
    return {
      hiveId: t.alias,
      hiveUrl,
      mode: facts.systemdUser ? 'systemd' : 'detached',
      npmInstall: !plan.withNodeModules,
      bundleBytes: bundle.bytes,
      layout,
    }
  } finally {
    await bundle.dispose()
  }
}

/** Waits until the queen lists `hiveId` as online. */
export async function waitForHiveOnline(
  queen: QueenClient,
  hiveId: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = 'not known to the queen yet'
  for (;;) {
    const hives = await queen.hives(signal).catch((err: unknown) => {
      last = errorMessage(err)
      return []
    })
    const hive = hives.find((h) => h.id === hiveId)
    if (hive?.online) return
    if (hive) last = hive.error ? `offline: ${hive.error}` : 'offline'
    if (Date.now() >= deadline) throw new Error(`after ${Math.round(timeoutMs / 1000)} s: ${last}`)
    await delay(500, signal)
  }
}

/** Stops the hive and removes it from a machine. */
export async function uninstallHive(ssh: SshRunner, purge: boolean, signal?: AbortSignal): Promise<string> {
  const layout = await existingLayout(ssh, signal)
  const r = await ssh.script(uninstallScriptText(layout, purge), { timeoutMs: 120_000, signal })
  if (r.code !== 0) {
    throw new RbeeError(
      'RBEE_CONFIG',
      `uninstalling from ${ssh.target.alias} failed: ${r.stderr.trim() || `exit code ${r.code}`}`,
    )
  }
  return r.stdout.replace(/\n$/, '')
}
