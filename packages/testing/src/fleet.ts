import { randomBytes } from 'node:crypto'
import { constants } from 'node:fs'
import { access, copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { QueenClient } from '@rbee/client'
import { delay } from '@rbee/common'
import {
  DEFAULT_HIVE_PORT,
  type FleetStatus,
  type HiveRecord,
  type QueenStreamEvent,
  type WorkerRecord,
  type WorkerSpawnResult,
  WorkerSpawnResultSchema,
} from '@rbee/contracts'
import { daemonCommand } from './daemon-bin.js'
import { daemonEnv } from './daemon-env.js'
import { ManagedProcess } from './managed-process.js'
import { createTestNetwork, type NetnsHost, type TestNetwork } from './netns.js'
import { BACKEND_PROBE_FIXTURE } from './probe-fixtures.js'
import { waitFor } from './wait-for.js'

/**
 * The port every fleet hive listens on inside its own network namespace: the hive's real
 * default. Each namespace has its own port space, so it cannot collide with anything, and a hive
 * restarted on its host comes back at the address `hives.conf` names.
 */
export const FLEET_HIVE_PORT = DEFAULT_HIVE_PORT

export interface FleetOptions {
  /** Number of hosts (network namespaces), one hive on each. */
  hosts: number
  /** Extra `queen-rbee` flags. */
  queenArgs?: string[]
  /** Extra `rbee-hive` flags for the hive on host `i`. */
  hiveArgs?: (i: number) => string[]
  /**
   * Name every hive in the queen's `hives.conf` (as an operator would), besides the hives
   * announcing themselves with `--queen-url`. With `false` the queen learns of hives only through
   * their registration. @default true
   */
  hivesConf?: boolean
  /** Longest wait for the queen to list every hive online. @default 30_000 */
  readyTimeoutMs?: number
  /**
   * Runs once the network exists, before any hive starts, with its gateway address (the root
   * namespace as the hosts reach it): where a test starts what the hives need at start, such as
   * a stand-in hub for `--hf-endpoint`. What it starts is the test's to close.
   */
  beforeHives?: (gateway: string) => Promise<void>
}

/** One host of the fleet and the hive running on it. */
export interface FleetHive {
  readonly index: number
  /** The hive's id (`hive-<index>`). */
  readonly id: string
  readonly host: NetnsHost
  /** `http://<host address>:7835`. */
  readonly url: string
  readonly home: string
  /** The running hive process (replaced by `startHive`); `pid` is the hive's own pid. */
  process: ManagedProcess
}

/** The queen of a fleet, in the root namespace, bound to the test network's gateway address. */
export interface FleetQueen {
  readonly url: string
  readonly port: number
  readonly process: ManagedProcess
  /** A client carrying the fleet's API key (the same one across queen restarts). */
  readonly client: QueenClient
}

/** One event of the queen's heartbeat stream and when it arrived (`Date.now()`). */
export interface TimedFleetEvent {
  at: number
  event: QueenStreamEvent
}

/** The queen's heartbeat stream as a test sees it (periodic `telemetry`/`queen` events are not kept). */
export interface FleetEventLog {
  readonly events: readonly TimedFleetEvent[]
  /**
   * The first event matching `test` that arrived at or after `since` (default: now), already
   * received or still to come; rejects after `timeoutMs` naming `what`.
   */
  next(
    what: string,
    test: (event: QueenStreamEvent) => boolean,
    options?: { since?: number; timeoutMs?: number },
  ): Promise<TimedFleetEvent>
  close(): Promise<void>
}

/** A running fleet: a queen and one hive per host, each host its own network namespace. */
export interface Fleet {
  readonly network: TestNetwork
  /** A user key of the queen's public API. */
  readonly apiKey: string
  /** An admin key of the queen (model and worker management). */
  readonly adminKey: string
  /** Secret shared by queen, hives and workers. */
  readonly nodeToken: string
  /** Current queen (replaced by `restartQueen`). */
  readonly queen: FleetQueen
  readonly hives: readonly FleetHive[]
  /** A scratch directory removed with the fleet. */
  readonly dir: string
  /** Every hive and worker the queen knows. */
  status(): Promise<FleetStatus>
  /** The queen's view of one hive, or undefined. */
  hive(i: number): Promise<HiveRecord | undefined>
  /**
   * Spawns a worker for `model` on hive `i` through the queen (`worker_spawn`) and waits until
   * the queen routes to it.
   */
  spawnWorker(i: number, model: string, options?: { slots?: number; ctxSize?: number }): Promise<WorkerRecord>
  /** Copies a `.gguf` file into hive `i`'s import dir and registers it under `id` (`model_import` through the queen). */
  importModel(i: number, path: string, id: string): Promise<void>
  /**
   * Stops the queen (SIGTERM, or SIGKILL) and starts a new one on the same port with the same
   * flags, so hives and workers find it where they left it. Resolves once it listens (it does
   * not wait for the fleet to be known again: that is what a test measures).
   */
  restartQueen(signal?: 'SIGTERM' | 'SIGKILL'): Promise<FleetQueen>
  /** Sends `signal` (default SIGKILL) to hive `i` and waits for it to exit. */
  killHive(i: number, signal?: NodeJS.Signals): Promise<void>
  /** Starts hive `i` again (same id, address, port and data dir); resolves once it listens. */
  startHive(i: number): Promise<FleetHive>
  /** Waits until the queen lists hive `i` online (or every hive, without `i`). */
  waitOnline(i?: number, timeoutMs?: number): Promise<void>
  /**
   * Follows the queen's aggregated heartbeat stream (across queen restarts) and keeps its
   * events with their arrival times; resolves once connected. Closed with the fleet.
   */
  watchEvents(): Promise<FleetEventLog>
  /** Stops everything, removes namespaces and files. Idempotent, never throws. */
  close(): Promise<void>
}

/**
 * Starts a fleet: a test network with `hosts` namespaces, the queen on the gateway address
 * (API key and node token set, no local hive), and one `rbee-hive` per host bound to the host's
 * address with `--queen-url` and the node token. Every hive runs with `RBEE_EXIT_WITH_STDIN=1`
 * (so do its workers), so nothing outlives the test process. Resolves once the queen lists
 * every hive online; on failure everything started is torn down.
 *
 * Requires root and iproute2 (see `canCreateNetworks`). Only addresses of the test network and
 * loopback inside a host are ever used.
 */
export async function startFleet(options: FleetOptions): Promise<Fleet> {
  const dir = await mkdtemp(join(tmpdir(), 'rbee-fleet-'))
  const apiKey = `fleet-key-${randomBytes(12).toString('hex')}`
  const adminKey = `fleet-admin-${randomBytes(12).toString('hex')}`
  const nodeToken = `fleet-node-${randomBytes(12).toString('hex')}`
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000
  let network: TestNetwork | undefined
  let queen: FleetQueen | undefined
  let client: QueenClient | undefined
  const hives: FleetHive[] = []
  const logs: FleetEventLog[] = []
  let closing: Promise<void> | undefined

  const close = (): Promise<void> => {
    closing ??= (async () => {
      await Promise.all(logs.map((l) => l.close().catch(() => {})))
      await client?.close().catch(() => {})
      // Hives first (they stop their workers), then the queen, then whatever is left.
      await Promise.all(hives.map((h) => h.process.close(5000).catch(() => {})))
      await queen?.process.close(5000).catch(() => {})
      await network?.close().catch(() => {})
      await rm(dir, { recursive: true, force: true }).catch(() => {})
    })()
    return closing
  }

  try {
    network = await createTestNetwork({ hosts: options.hosts })
    const net = network
    const hivesConfPath = join(dir, 'hives.conf')
    const ids = net.hosts.map((_, i) => `hive-${i}`)
    await writeFile(
      hivesConfPath,
      options.hivesConf === false
        ? '# hives join by registering\n'
        : net.hosts
            .map((h, i) => `Host ${ids[i]}\n  HostName ${h.address}\n  HivePort ${FLEET_HIVE_PORT}\n`)
            .join('\n'),
    )
    const queenHome = join(dir, 'queen')
    await mkdir(queenHome, { recursive: true })

    const launchQueen = async (port: number): Promise<FleetQueen> => {
      // The queen has no stdin lifeline: `setpriv --pdeathsig KILL` (util-linux) makes the kernel
      // kill it if this test process dies first; it execs, so the pid stays the queen's.
      const queenCommand = daemonCommand('queen-rbee', [
        '--host',
        net.gateway,
        '--port',
        String(port),
        '--api-key',
        apiKey,
        '--admin-key',
        adminKey,
        '--node-token',
        nodeToken,
        '--no-local-hive',
        '--hives-conf',
        hivesConfPath,
        '--home',
        queenHome,
        ...(options.queenArgs ?? []),
      ])
      const proc = new ManagedProcess(
        (await canUsePdeathsig())
          ? {
              command: 'setpriv',
              args: ['--pdeathsig', 'KILL', queenCommand.command, ...queenCommand.args],
              env: daemonEnv({}),
            }
          : { ...queenCommand, env: daemonEnv({}) },
      )
      try {
        const msg = await proc.waitForJson<{ port: number }>((m) => m.type === 'listening', 30_000)
        const url = `http://${net.gateway}:${msg.port}`
        client ??= new QueenClient({ baseUrl: url, token: apiKey, adminToken: adminKey })
        return { url, port: msg.port, process: proc, client }
      } catch (err) {
        await proc.close(1000)
        throw err
      }
    }

    const launchHive = async (i: number, home: string): Promise<ManagedProcess> => {
      const host = net.hosts[i]!
      const proc = host.spawn({
        ...daemonCommand('rbee-hive', [
          '--host',
          host.address,
          '--port',
          String(FLEET_HIVE_PORT),
          '--hive-id',
          ids[i]!,
          '--queen-url',
          queen!.url,
          '--home',
          home,
          '--token',
          nodeToken,
          '--nvidia-smi',
          'none',
          '--backend-probe',
          BACKEND_PROBE_FIXTURE,
          ...(options.hiveArgs?.(i) ?? []),
        ]),
        env: daemonEnv({ RBEE_EXIT_WITH_STDIN: '1' }),
        stdinPipe: true,
      })
      try {
        await proc.waitForJson((m) => m.type === 'listening', 30_000)
        return proc
      } catch (err) {
        await proc.close(1000)
        throw err
      }
    }

    queen = await launchQueen(0)
    await options.beforeHives?.(net.gateway)
    const started = await Promise.all(
      net.hosts.map(async (host, i) => {
        const home = join(dir, ids[i]!)
        await mkdir(home, { recursive: true })
        const proc = await launchHive(i, home)
        return {
          index: i,
          id: ids[i]!,
          host,
          url: `http://${host.address}:${FLEET_HIVE_PORT}`,
          home,
          process: proc,
        }
      }),
    )
    hives.push(...started)

    const status = (): Promise<FleetStatus> => queen!.client.status()
    const hive = async (i: number): Promise<HiveRecord | undefined> =>
      (await queen!.client.hives()).find((h) => h.id === ids[i])
    const waitOnline = async (i?: number, timeoutMs = readyTimeoutMs): Promise<void> => {
      const want = i === undefined ? ids : [ids[i]!]
      await waitFor(
        `the queen to list ${want.join(', ')} online`,
        async () => {
          const online = new Set((await queen!.client.hives()).filter((h) => h.online).map((h) => h.id))
          return want.every((id) => online.has(id))
        },
        timeoutMs,
        100,
      )
    }

    await waitOnline()

    const fleet: Fleet = {
      network: net,
      apiKey,
      adminKey,
      nodeToken,
      get queen() {
        return queen!
      },
      hives,
      dir,
      status,
      hive,
      waitOnline,
      async spawnWorker(i, model, opts = {}) {
        const job = await queen!.client.run({
          operation: 'worker_spawn',
          hive_id: ids[i]!,
          model,
          worker: 'cpu',
          device: 0,
          ...(opts.slots ? { slots: opts.slots } : {}),
          ...(opts.ctxSize ? { ctx_size: opts.ctxSize } : {}),
        })
        const out = await job.collect()
        if (out.outcome !== 'done') throw new Error(`worker_spawn on ${ids[i]} failed: ${out.message}`)
        let spawned: WorkerSpawnResult | undefined
        for (const d of out.data) {
          const r = WorkerSpawnResultSchema.safeParse(d.payload)
          if (r.success) spawned = r.data
        }
        if (!spawned) throw new Error(`worker_spawn on ${ids[i]} returned no WorkerSpawnResult`)
        const id = spawned.worker_id
        return waitFor(
          `worker ${id} routable`,
          async () => (await status()).workers.find((w) => w.id === id && w.routable),
          15_000,
        )
      },
      async importModel(i, path, id) {
        // A hive imports only from its import dirs: the file goes into this hive's drop dir, as
        // rbee puts a local file there.
        const dropped = join(hives[i]!.home, 'import', basename(path))
        await mkdir(dirname(dropped), { recursive: true })
        await copyFile(path, dropped)
        const job = await queen!.client.run({
          operation: 'model_import',
          hive_id: ids[i]!,
          path: dropped,
          id,
        })
        const out = await job.collect()
        if (out.outcome !== 'done') throw new Error(`model_import on ${ids[i]} failed: ${out.message}`)
      },
      async restartQueen(signal = 'SIGTERM') {
        const old = queen!
        if (signal === 'SIGKILL') {
          old.process.kill('SIGKILL')
          await old.process.exited
        } else {
          await old.process.close(10_000)
        }
        queen = await launchQueen(old.port)
        return queen
      },
      async killHive(i, signal = 'SIGKILL') {
        const h = hives[i]!
        h.process.kill(signal)
        await h.process.exited
      },
      async startHive(i) {
        const h = hives[i]!
        if (!h.process.hasExited) throw new Error(`hive ${h.id} is still running`)
        h.process = await launchHive(i, h.home)
        return h
      },
      async watchEvents() {
        const log = await watchQueenEvents(queen!.client)
        logs.push(log)
        return log
      },
      close,
    }
    return fleet
  } catch (err) {
    // What the daemons said is usually the reason: keep it in the error.
    const tails = [
      ...(queen ? [`queen stderr:\n${queen.process.stderrTail(15)}`] : []),
      ...hives.map((h) => `${h.id} stderr:\n${h.process.stderrTail(15)}`),
    ]
    await close()
    if (tails.length === 0) throw err
    throw new Error(`fleet did not start: ${String(err)}\n${tails.join('\n')}`, { cause: err })
  }
}

/**
 * Follows a queen's aggregated heartbeat stream and keeps its events (periodic `telemetry` and
 * `queen` summaries left out) with their arrival times; resolves once connected. Close it when
 * done.
 */
export async function watchQueenEvents(client: QueenClient): Promise<FleetEventLog> {
  const events: TimedFleetEvent[] = []
  const waiters = new Set<{ test: (e: TimedFleetEvent) => boolean; resolve: (e: TimedFleetEvent) => void }>()
  let connected: () => void = () => {}
  const isConnected = new Promise<void>((resolve) => {
    connected = resolve
  })
  const sub = client.heartbeats({
    onConnect: () => connected(),
    onEvent: (event) => {
      if (event.type === 'telemetry' || event.type === 'queen') return
      const timed = { at: Date.now(), event }
      events.push(timed)
      for (const w of [...waiters]) if (w.test(timed)) w.resolve(timed)
    },
    backoff: { initialMs: 50, maxMs: 500, jitter: 0 },
  })
  const log: FleetEventLog = {
    events,
    next(what, test, options = {}) {
      const since = options.since ?? Date.now()
      const match = (e: TimedFleetEvent): boolean => e.at >= since && test(e.event)
      const seen = events.find(match)
      if (seen) return Promise.resolve(seen)
      return new Promise((resolve, reject) => {
        const timeoutMs = options.timeoutMs ?? 15_000
        const waiter = {
          test: match,
          resolve: (e: TimedFleetEvent) => {
            clearTimeout(timer)
            waiters.delete(waiter)
            resolve(e)
          },
        }
        const timer = setTimeout(() => {
          waiters.delete(waiter)
          reject(new Error(`no ${what} on the queen's stream within ${timeoutMs} ms`))
        }, timeoutMs)
        waiters.add(waiter)
      })
    },
    close: () => sub.close(),
  }
  const timeout = new AbortController()
  try {
    await Promise.race([
      isConnected,
      delay(10_000, timeout.signal).then(() => {
        throw new Error("could not connect to the queen's heartbeat stream within 10 s")
      }),
    ])
  } catch (err) {
    await sub.close()
    throw err
  } finally {
    timeout.abort()
  }
  return log
}

let pdeathsig: Promise<boolean> | undefined
function canUsePdeathsig(): Promise<boolean> {
  pdeathsig ??= access('/usr/bin/setpriv', constants.X_OK).then(
    () => true,
    () => false,
  )
  return pdeathsig
}

/** True while a process with this pid exists and is not a zombie. */
export async function isProcessAlive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    // Field 3 (state) follows the command name in parentheses, which may itself hold spaces.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}

/** Resident memory of a process in MiB, from `/proc/<pid>/status` (VmRSS). */
export async function processRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]
  if (kb === undefined) throw new Error(`no VmRSS for pid ${pid}`)
  return Number(kb) / 1024
}

/** Pids of the live processes whose parent is `pid` (from `/proc/<n>/stat`). */
export async function childPids(pid: number): Promise<number[]> {
  const out: number[] = []
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (fields[0] !== 'Z' && Number(fields[1]) === pid) out.push(Number(name))
    } catch {
      // The process ended while we looked.
    }
  }
  return out
}

/**
 * Prints one scenario's measurements as a single stdout line, `FLEET-FIGURES {json}`, so a run's
 * figures can be collected with `grep` (see bench/fleet.md).
 */
export function printFleetFigures(scenario: string, figures: Record<string, unknown>): void {
  process.stdout.write(`FLEET-FIGURES ${JSON.stringify({ scenario, ...figures })}\n`)
}
