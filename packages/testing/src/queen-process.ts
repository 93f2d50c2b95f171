import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { daemonCommand } from './daemon-bin.js'
import { daemonEnv } from './daemon-env.js'
import { daemonLifetime } from './daemon-lifetime.js'
import { ManagedProcess } from './managed-process.js'

export interface StartQueenOptions {
  /** Extra flags, e.g. `['--queue-size', '1']`. */
  args?: string[]
  /** Extra environment (the parent's `RBEE_*` and `HF_*` variables are not inherited). */
  env?: NodeJS.ProcessEnv
  /** Data dir of the local hive. @default a fresh temporary directory, removed by `close()` */
  home?: string
  /** `--hives-conf`. @default a path that does not exist (no hives: the local hive runs) */
  hivesConf?: string
  /** @default 0 (the OS picks); give the old port to restart a queen in place */
  port?: number
  /** `--node-token`. */
  nodeToken?: string
  /** `--api-key`, once per key. */
  apiKeys?: string[]
  /** @default 60_000 */
  readyTimeoutMs?: number
}

export interface StartedQueen {
  url: string
  port: number
  pid: number
  home: string
  /** Id of the in-process local hive, or null. */
  localHive: string | null
  process: ManagedProcess
  /** SIGTERM (SIGKILL after `graceMs`), then removes the temporary data dir if it made one. */
  close: (graceMs?: number) => Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/**
 * Starts a real `queen-rbee` on 127.0.0.1 and waits for its `{"type":"listening","port":N}` line.
 * `HF_ENDPOINT` points at a closed loopback port unless the test gives one.
 */
export async function startQueen(options: StartQueenOptions = {}): Promise<StartedQueen> {
  const ownHome = options.home === undefined
  const home = options.home ?? (await mkdtemp(join(tmpdir(), 'rbee-queen-test-')))
  const env = daemonEnv(options.env)
  const args = [
    '--host',
    '127.0.0.1',
    '--port',
    String(options.port ?? 0),
    '--home',
    home,
    '--hives-conf',
    options.hivesConf ?? join(home, 'no-hives.conf'),
    ...(options.nodeToken ? ['--node-token', options.nodeToken] : []),
    ...(options.apiKeys ?? []).flatMap((k) => ['--api-key', k]),
    ...(options.args ?? []),
  ]
  // `rbee-local`: queen-rbee with this machine's hive in-process, what `rbee queen start` runs
  // (with `--no-local-hive` it is the control-plane queen).
  const proc = new ManagedProcess({ ...daemonCommand('rbee-local', args), env })
  const lifetime = daemonLifetime(proc, home, ownHome)
  try {
    const msg = await proc.waitForJson<{ type: string; port: number; local_hive: string | null }>(
      (m) => m.type === 'listening',
      options.readyTimeoutMs ?? 60_000,
    )
    return {
      url: `http://127.0.0.1:${msg.port}`,
      port: msg.port,
      pid: proc.pid,
      home,
      localHive: msg.local_hive,
      process: proc,
      close: lifetime.close,
    }
  } catch (err) {
    await lifetime.abort()
    throw err
  }
}
