import { RbeeError } from '@rbee/common/base'
import { z } from 'zod'
import type { SshRunner } from '../ssh/ssh-runner.js'

/** Oldest Node major rbee runs on. */
export const MIN_NODE_MAJOR = 20

/** What rbee needs to know about a remote machine before installing there. */
export interface RemoteFacts {
  /** The remote user's home directory. */
  home: string
  node: {
    version: string
    /** `process.versions.modules`: the ABI native addons are built for. */
    modules: string
    platform: string
    arch: string
    /** Absolute path of the node binary (used by the unit and the start script). */
    execPath: string
  }
  /** `systemctl --user` works there (a user manager is running). */
  systemdUser: boolean
  hasNpm: boolean
  /** `nvidia-smi` is on the PATH. */
  cuda: boolean
  /** A Vulkan loader is installed. */
  vulkan: boolean
}

const NodeFactsSchema = z.object({
  version: z.string(),
  modules: z.string(),
  platform: z.string(),
  arch: z.string(),
  execPath: z.string(),
})

/** The probe: one round trip, one `key=value` line per fact. */
export const PROBE_SCRIPT = `
printf 'home=%s\\n' "$HOME"
if command -v node >/dev/null 2>&1; then
  node -e 'process.stdout.write("node=" + JSON.stringify({version: process.versions.node, modules: process.versions.modules, platform: process.platform, arch: process.arch, execPath: process.execPath}) + "\\n")' || echo "node=broken"
else
  echo "node=none"
fi
if command -v systemctl >/dev/null 2>&1 && systemctl --user show-environment >/dev/null 2>&1; then echo "systemd=yes"; else echo "systemd=no"; fi
if command -v npm >/dev/null 2>&1; then echo "npm=yes"; else echo "npm=no"; fi
if command -v nvidia-smi >/dev/null 2>&1; then echo "cuda=yes"; else echo "cuda=no"; fi
if (ldconfig -p 2>/dev/null || true) | grep -q 'libvulkan\\.so'; then echo "vulkan=yes"; else echo "vulkan=no"; fi
`

/**
 * Parses the probe's output.
 * @throws RbeeError `RBEE_CONFIG` when Node is missing, broken or older than 20, saying how to fix it.
 */
export function parseProbe(alias: string, stdout: string): RemoteFacts {
  const kv = new Map<string, string>()
  for (const line of stdout.split('\n')) {
    const i = line.indexOf('=')
    // Values as printed: a home directory may end in a space.
    if (i > 0) kv.set(line.slice(0, i).trim(), line.slice(i + 1))
  }
  const nodeRaw = kv.get('node')
  const install =
    'install Node.js 20 or later there (Debian/Ubuntu: sudo apt install nodejs, or https://nodejs.org) so that `node` is on the PATH of a non-interactive ssh session, then run rbee hive install again'
  if (nodeRaw === undefined || nodeRaw === 'none') {
    throw new RbeeError(
      'RBEE_CONFIG',
      `Node.js is not installed on ${alias} (no \`node\` on its PATH): ${install}`,
    )
  }
  let node: RemoteFacts['node']
  try {
    node = NodeFactsSchema.parse(JSON.parse(nodeRaw))
  } catch {
    throw new RbeeError('RBEE_CONFIG', `\`node\` on ${alias} does not run: ${install}`)
  }
  const major = Number(node.version.split('.')[0])
  if (!(major >= MIN_NODE_MAJOR)) {
    throw new RbeeError(
      'RBEE_CONFIG',
      `${alias} has Node.js ${node.version}, but rbee needs ${MIN_NODE_MAJOR} or later: ${install}`,
    )
  }
  const home = kv.get('home')
  if (!home?.startsWith('/'))
    throw new RbeeError('RBEE_UPSTREAM', `${alias} did not say where its home directory is`)
  return {
    home,
    node,
    systemdUser: kv.get('systemd') === 'yes',
    hasNpm: kv.get('npm') === 'yes',
    cuda: kv.get('cuda') === 'yes',
    vulkan: kv.get('vulkan') === 'yes',
  }
}

/** Probes a remote machine over SSH (reachability, key, Node, systemd, GPUs). */
export async function probeRemote(ssh: SshRunner, signal?: AbortSignal): Promise<RemoteFacts> {
  const result = await ssh.script(PROBE_SCRIPT, { timeoutMs: 30_000, signal })
  if (result.code !== 0) {
    throw new RbeeError(
      'RBEE_UPSTREAM',
      `probing ${ssh.target.alias} failed: ${result.stderr.trim() || `exit code ${result.code}`}`,
    )
  }
  return parseProbe(ssh.target.alias, result.stdout)
}
