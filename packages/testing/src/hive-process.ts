import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { daemonCommand } from './daemon-bin.js'
import { daemonEnv } from './daemon-env.js'
import { daemonLifetime } from './daemon-lifetime.js'
import { ManagedProcess } from './managed-process.js'
import { BACKEND_PROBE_FIXTURE } from './probe-fixtures.js'

export interface StartHiveOptions {
  /** Extra flags, e.g. `['--max-restarts', '2']`. */
  args?: string[]
  /** Extra environment (the parent's `RBEE_*` and `HF_*` variables are not inherited). */
  env?: NodeJS.ProcessEnv
  /** Data dir. @default a fresh temporary directory, removed by `close()` */
  home?: string
  /** @default 'test-hive' */
  hiveId?: string
  /** Shared secret (`--token`). */
  token?: string
  /**
   * `nvidia-smi` to use: a fixture script path, or `none`.
   * @default 'none' (tests do not depend on the machine's GPUs)
   */
  nvidiaSmi?: string
  /**
   * What the hive runs as its backend probe: a program path, `none`, or `real` for the worker's
   * own `--probe-backends`.
   * @default BACKEND_PROBE_FIXTURE (a machine without a GPU unless `RBEE_FIXTURE_PROBE` names another result)
   */
  backendProbe?: string
  /** @default 30_000 */
  readyTimeoutMs?: number
}

export interface StartedHive {
  url: string
  port: number
  pid: number
  hiveId: string
  home: string
  process: ManagedProcess
  /** `Authorization` header value when a token was given. */
  authorization: string | undefined
  /** SIGTERM (SIGKILL after `graceMs`), then removes the temporary data dir if it made one. */
  close: (graceMs?: number) => Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/**
 * Starts a real `rbee-hive` on 127.0.0.1 port 0 with its own data dir and waits for its
 * `{"type":"listening",…}` line. `HF_ENDPOINT` points at a closed loopback port unless the test
 * gives one, so no test can reach the real hub by accident.
 */
export async function startHive(options: StartHiveOptions = {}): Promise<StartedHive> {
  const ownHome = options.home === undefined
  const home = options.home ?? (await mkdtemp(join(tmpdir(), 'rbee-hive-test-')))
  const hiveId = options.hiveId ?? 'test-hive'
  // The hive (and so its workers) goes away with the test process, even one killed by a timeout.
  const env = daemonEnv({ RBEE_EXIT_WITH_STDIN: '1', ...options.env })
  const args = [
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '--home',
    home,
    '--hive-id',
    hiveId,
    '--nvidia-smi',
    options.nvidiaSmi ?? 'none',
    ...(options.backendProbe === 'real'
      ? []
      : ['--backend-probe', options.backendProbe ?? BACKEND_PROBE_FIXTURE]),
    ...(options.token ? ['--token', options.token] : []),
    ...(options.args ?? []),
  ]
  const proc = new ManagedProcess({ ...daemonCommand('rbee-hive', args), env, stdinPipe: true })
  const lifetime = daemonLifetime(proc, home, ownHome)
  try {
    const msg = await proc.waitForJson<{ type: string; port: number; hive_id: string }>(
      (m) => m.type === 'listening',
      options.readyTimeoutMs ?? 30_000,
    )
    return {
      url: `http://127.0.0.1:${msg.port}`,
      port: msg.port,
      pid: proc.pid,
      hiveId: msg.hive_id,
      home,
      process: proc,
      authorization: options.token ? `Bearer ${options.token}` : undefined,
      close: lifetime.close,
    }
  } catch (err) {
    await lifetime.abort()
    throw err
  }
}
