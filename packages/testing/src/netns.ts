import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { ManagedProcess, type ManagedProcessOptions } from './managed-process.js'

const run = promisify(execFile)

async function ip(...args: string[]): Promise<string> {
  const { stdout } = await run('ip', args, { timeout: 10_000 })
  return stdout
}

/** A simulated machine: its own network namespace, one veth link to the test network, one address. */
export interface NetnsHost {
  /** Namespace name (`ip netns exec <name> …`). */
  readonly name: string
  /** This host's IPv4 address on the test network. */
  readonly address: string
  /** Starts a process inside this host's namespace; it is closed with the network. */
  spawn(options: ManagedProcessOptions): ManagedProcess
  /** Runs a command to completion inside the namespace. */
  exec(command: string, args: string[]): Promise<string>
  /** Takes this host's link down (a cable pulled), or back up. */
  setLink(up: boolean): Promise<void>
}

export interface TestNetwork {
  /** The address of the machine itself (the root namespace) on the test network: where a queen listens. */
  readonly gateway: string
  readonly hosts: NetnsHost[]
  /** Kills every process started on a host and deletes the namespaces, links and bridge. Idempotent. */
  close(): Promise<void>
}

export interface TestNetworkOptions {
  /** Number of hosts. */
  hosts: number
}

/** True when this process may create network namespaces (root with iproute2). */
export async function canCreateNetworks(): Promise<boolean> {
  if (process.getuid?.() !== 0) return false
  try {
    await ip('netns', 'list')
    return true
  } catch {
    return false
  }
}

const PREFIX = 'rbt'

/**
 * Removes namespaces and bridges that earlier test runs left behind when they were killed
 * before cleaning up: names carry the creating pid, and only those whose pid is gone are removed.
 */
async function removeStale(): Promise<void> {
  const alive = (pid: number): boolean => {
    try {
      process.kill(pid, 0)
      return true
    } catch {
      return false
    }
  }
  const namespaces = (await ip('netns', 'list')).split('\n').map((l) => l.split(' ')[0] ?? '')
  for (const ns of namespaces) {
    const m = new RegExp(`^${PREFIX}(\\d+)n\\d+$`).exec(ns)
    if (m && !alive(Number(m[1]))) await ip('netns', 'del', ns).catch(() => {})
  }
  const links = await ip('-o', 'link', 'show', 'type', 'bridge')
  for (const m of links.matchAll(new RegExp(`\\d+: (${PREFIX}(\\d+)b\\d*)[:@]`, 'g'))) {
    if (!alive(Number(m[2]))) await ip('link', 'del', m[1]!).catch(() => {})
  }
}

let networkCount = 0

/**
 * Creates `hosts` network namespaces joined by veth pairs to one bridge in the root namespace,
 * each with its own address in a /24 chosen for this run, so hives on them are reached the way
 * separate machines would be. Only these addresses are ever used. Requires root and `ip`.
 */
export async function createTestNetwork(options: TestNetworkOptions): Promise<TestNetwork> {
  await removeStale()
  const n = networkCount++
  const id = `${PREFIX}${process.pid}`
  // Interface names are limited to 15 characters.
  const bridge = `${id}b${n}`.slice(0, 15)
  // A /24 in 10.213.0.0/16 picked from pid and counter; collisions with another live run are
  // detected by `ip addr add` failing on the bridge.
  const subnet = `10.213.${(process.pid * 7 + n * 31) % 250}`
  const gateway = `${subnet}.1`
  const processes: ManagedProcess[] = []
  const namespaces: string[] = []
  let closed = false

  const close = async (): Promise<void> => {
    if (closed) return
    closed = true
    await Promise.all(processes.map((p) => p.close(3000).catch(() => {})))
    for (const ns of namespaces) await ip('netns', 'del', ns).catch(() => {})
    await ip('link', 'del', bridge).catch(() => {})
  }

  try {
    await ip('link', 'add', bridge, 'type', 'bridge')
    await ip('addr', 'add', `${gateway}/24`, 'dev', bridge)
    await ip('link', 'set', bridge, 'up')
    const hosts: NetnsHost[] = []
    for (let i = 0; i < options.hosts; i++) {
      const ns = `${id}n${n * 100 + i}`
      const outer = `${id}v${n}${i}`.slice(0, 15)
      const inner = `${id}i${n}${i}`.slice(0, 15)
      const address = `${subnet}.${i + 10}`
      await ip('netns', 'add', ns)
      namespaces.push(ns)
      await ip('link', 'add', outer, 'type', 'veth', 'peer', 'name', inner)
      await ip('link', 'set', inner, 'netns', ns)
      await ip('link', 'set', outer, 'master', bridge)
      await ip('link', 'set', outer, 'up')
      await ip('-n', ns, 'link', 'set', 'lo', 'up')
      await ip('-n', ns, 'link', 'set', inner, 'name', 'eth0')
      await ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0')
      await ip('-n', ns, 'link', 'set', 'eth0', 'up')
      await ip('-n', ns, 'route', 'add', 'default', 'via', gateway)
      hosts.push({
        name: ns,
        address,
        spawn(opts) {
          const p = new ManagedProcess({
            ...opts,
            command: 'ip',
            args: ['netns', 'exec', ns, opts.command, ...opts.args],
          })
          processes.push(p)
          return p
        },
        async exec(command, args) {
          const { stdout } = await run('ip', ['netns', 'exec', ns, command, ...args], { timeout: 30_000 })
          return stdout
        },
        async setLink(up) {
          await ip('link', 'set', outer, up ? 'up' : 'down')
        },
      })
    }
    return { gateway, hosts, close }
  } catch (err) {
    await close()
    throw err
  }
}
