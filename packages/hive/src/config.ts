import { homedir } from 'node:os'
import { isAbsolute, join, resolve } from 'node:path'
import { ConfigError, type FlagKind, readFlags, readSecretFile, validateFlags } from '@rbee/common'
import { HostSchema, IdSchema, RestartPolicyNameSchema } from '@rbee/contracts'
import { z } from 'zod'
import { DEFAULT_DOWNLOAD_DISK_MARGIN_MB } from './downloads/disk-space.js'
import { HIVE_DEFAULTS as D } from './hive-defaults.js'
import { DEFAULT_WORKER_PROBE } from './workers/health-probe.js'
import { DEFAULT_RESTART_POLICY as R } from './workers/restart-policy.js'

const UrlSchema = z.url({ protocol: /^https?$/ })

/** Everything `rbee-hive` is started with, after parsing and validation. */
export const HiveConfigSchema = z.object({
  host: HostSchema,
  port: z.int().min(0).max(65535),
  hive_id: IdSchema.optional(),
  queen_url: UrlSchema.optional(),
  advertise_url: UrlSchema.optional(),
  home: z.string().min(1),
  token: z.string().min(8, 'must be at least 8 characters').optional(),
  /** Where the token came from, when a file (re-read on SIGHUP to check it is unchanged). */
  token_file: z.string().min(1).optional(),
  telemetry_interval_ms: z.int().min(50).max(3_600_000),
  restart_policy: RestartPolicyNameSchema,
  max_restarts: z.int().min(0).max(1000),
  restart_window_ms: z.int().min(1000).max(86_400_000),
  restart_backoff_ms: z.int().min(0).max(600_000),
  worker_bin: z.string().min(1).optional(),
  worker_stop_grace_ms: z.int().min(0).max(600_000),
  cpu_memory_mb: z
    .int()
    .min(1)
    .max(1 << 30)
    .optional(),
  nvidia_smi: z.string().min(1).optional(),
  backend_probe: z.string().min(1).optional(),
  backend_probe_timeout_ms: z.int().min(1000).max(600_000),
  hf_endpoint: UrlSchema,
  hf_token: z.string().min(1).optional(),
  import_dirs: z.array(z.string().min(1)),
  hf_timeout_ms: z.int().min(100).max(600_000),
  download_stall_timeout_ms: z.int().min(100).max(3_600_000),
  download_disk_margin_mb: z
    .int()
    .min(0)
    .max(1024 * 1024),
  peer_max_transfers: z.int().min(0).max(1024),
  peer_max_attempts: z.int().min(1).max(100),
  worker_probe_interval_ms: z.int().min(0).max(3_600_000),
  worker_probe_timeout_ms: z.int().min(10).max(3_600_000),
  // At least 1 ms: an unresponsive worker is given time to answer again before it is killed.
  worker_unresponsive_restart_ms: z.int().min(1).max(86_400_000),
})
export type HiveConfig = z.infer<typeof HiveConfigSchema>

/** Flag → [config key, env var, default, kind]. Every flag also has an environment variable. */
const FLAGS: Record<string, readonly [keyof HiveConfig, string, string | undefined, FlagKind]> = {
  host: ['host', 'RBEE_HOST', D.host, 'string'],
  port: ['port', 'RBEE_PORT', String(D.port), 'int'],
  'hive-id': ['hive_id', 'RBEE_HIVE_ID', undefined, 'string'],
  'queen-url': ['queen_url', 'RBEE_QUEEN_URL', undefined, 'string'],
  'advertise-url': ['advertise_url', 'RBEE_ADVERTISE_URL', undefined, 'string'],
  home: ['home', 'RBEE_HOME', undefined, 'string'],
  token: ['token', 'RBEE_NODE_TOKEN', undefined, 'string'],
  'token-file': ['token_file', 'RBEE_NODE_TOKEN_FILE', undefined, 'string'],
  'telemetry-interval-ms': [
    'telemetry_interval_ms',
    'RBEE_TELEMETRY_INTERVAL_MS',
    String(D.telemetryIntervalMs),
    'int',
  ],
  'restart-policy': ['restart_policy', 'RBEE_RESTART_POLICY', R.policy, 'string'],
  'max-restarts': ['max_restarts', 'RBEE_MAX_RESTARTS', String(R.maxRestarts), 'int'],
  'restart-window-ms': ['restart_window_ms', 'RBEE_RESTART_WINDOW_MS', String(R.windowMs), 'int'],
  'restart-backoff-ms': ['restart_backoff_ms', 'RBEE_RESTART_BACKOFF_MS', String(R.backoffInitialMs), 'int'],
  'worker-bin': ['worker_bin', 'RBEE_WORKER_BIN', undefined, 'string'],
  'cpu-memory-mb': ['cpu_memory_mb', 'RBEE_CPU_MEMORY_MB', undefined, 'int'],
  'worker-stop-grace-ms': [
    'worker_stop_grace_ms',
    'RBEE_WORKER_STOP_GRACE_MS',
    String(D.workerStopGraceMs),
    'int',
  ],
  'nvidia-smi': ['nvidia_smi', 'RBEE_NVIDIA_SMI', undefined, 'string'],
  'backend-probe': ['backend_probe', 'RBEE_BACKEND_PROBE', undefined, 'string'],
  'backend-probe-timeout-ms': [
    'backend_probe_timeout_ms',
    'RBEE_BACKEND_PROBE_TIMEOUT_MS',
    String(D.backendProbeTimeoutMs),
    'int',
  ],
  'hf-endpoint': ['hf_endpoint', 'HF_ENDPOINT', D.hfEndpoint, 'string'],
  'import-dir': ['import_dirs', 'RBEE_IMPORT_DIRS', undefined, 'list'],
  'hf-timeout-ms': ['hf_timeout_ms', 'RBEE_HF_TIMEOUT_MS', String(D.hfTimeoutMs), 'int'],
  'download-stall-timeout-ms': [
    'download_stall_timeout_ms',
    'RBEE_DOWNLOAD_STALL_TIMEOUT_MS',
    String(D.downloadStallTimeoutMs),
    'int',
  ],
  'peer-max-transfers': ['peer_max_transfers', 'RBEE_PEER_MAX_TRANSFERS', String(D.peerMaxTransfers), 'int'],
  'peer-max-attempts': ['peer_max_attempts', 'RBEE_PEER_MAX_ATTEMPTS', String(D.peerMaxAttempts), 'int'],
  'download-disk-margin-mb': [
    'download_disk_margin_mb',
    'RBEE_DOWNLOAD_DISK_MARGIN_MB',
    String(DEFAULT_DOWNLOAD_DISK_MARGIN_MB),
    'int',
  ],
  'worker-probe-interval-ms': [
    'worker_probe_interval_ms',
    'RBEE_WORKER_PROBE_INTERVAL_MS',
    String(DEFAULT_WORKER_PROBE.intervalMs),
    'int',
  ],
  'worker-probe-timeout-ms': [
    'worker_probe_timeout_ms',
    'RBEE_WORKER_PROBE_TIMEOUT_MS',
    String(DEFAULT_WORKER_PROBE.timeoutMs),
    'int',
  ],
  'worker-unresponsive-restart-ms': [
    'worker_unresponsive_restart_ms',
    'RBEE_WORKER_UNRESPONSIVE_RESTART_MS',
    String(DEFAULT_WORKER_PROBE.restartAfterMs),
    'int',
  ],
}

export const HIVE_USAGE = `Usage: rbee-hive [options]

The per-machine daemon of rbee: model catalog and downloads, llm-worker-rbee lifecycle,
process and GPU monitoring, telemetry for the queen.

Options (each also read from the environment variable shown; flags win):
  --host ADDR                  RBEE_HOST                  bind address (default: ${D.host})
  --port N                     RBEE_PORT                  0 = the OS picks (default: ${D.port})
  --hive-id ID                 RBEE_HIVE_ID               this hive's id (default: the host name)
  --queen-url URL              RBEE_QUEEN_URL             announce the hive there (default: none)
  --advertise-url URL          RBEE_ADVERTISE_URL         URL the queen uses for this hive
                                                          (default: derived from the bind address)
  --home DIR                   RBEE_HOME                  data dir (default: ~/.local/share/rbee)
  --token T                    RBEE_NODE_TOKEN            shared secret with queen and workers;
                                                          required when bound beyond loopback
  --token-file PATH            RBEE_NODE_TOKEN_FILE       file holding that token (mode 600); --token wins
  --telemetry-interval-ms N    RBEE_TELEMETRY_INTERVAL_MS telemetry period (default: ${D.telemetryIntervalMs})
  --restart-policy P           RBEE_RESTART_POLICY        never|on-failure|always (default: ${R.policy})
  --max-restarts N             RBEE_MAX_RESTARTS          restarts per window before giving up (default: ${R.maxRestarts})
  --restart-window-ms N        RBEE_RESTART_WINDOW_MS     (default: ${R.windowMs})
  --restart-backoff-ms N       RBEE_RESTART_BACKOFF_MS    first restart delay, doubling (default: ${R.backoffInitialMs})
  --worker-bin PATH            RBEE_WORKER_BIN            llm-worker-rbee entry point (default: bundled)
  --cpu-memory-mb N            RBEE_CPU_MEMORY_MB         RAM this hive gives CPU workers at most: it reports
                                                          the CPU with this much, less its CPU workers'
                                                          estimates (default: all the machine's free RAM)
  --worker-stop-grace-ms N     RBEE_WORKER_STOP_GRACE_MS  SIGTERM → SIGKILL grace (default: ${D.workerStopGraceMs})
  --nvidia-smi PATH            RBEE_NVIDIA_SMI            nvidia-smi binary, or "none" (default: on PATH)
  --backend-probe PATH         RBEE_BACKEND_PROBE         what checks at start which llama.cpp builds load:
                                                          a program printing llm-worker-rbee --probe-backends
                                                          lines, or "none" (backends taken on trust)
                                                          (default: the worker's own --probe-backends)
  --backend-probe-timeout-ms N RBEE_BACKEND_PROBE_TIMEOUT_MS
                                                          all builds together (default: ${D.backendProbeTimeoutMs})
  --hf-endpoint URL            HF_ENDPOINT                Hugging Face base URL (default: ${D.hfEndpoint})
  --import-dir DIR             RBEE_IMPORT_DIRS           another directory model_import may read from;
                                                          repeat the flag, or comma-separate in the env
                                                          var (always allowed: HOME/import, HOME/models)
  --hf-timeout-ms N            RBEE_HF_TIMEOUT_MS         each file-list or file-size request to the hub,
                                                          answer included (default: ${D.hfTimeoutMs})
  --download-stall-timeout-ms N
                               RBEE_DOWNLOAD_STALL_TIMEOUT_MS
                                                          less than 16 KiB of a file in this long
                                                          retries the transfer (default: ${D.downloadStallTimeoutMs})
  --download-disk-margin-mb N
                               RBEE_DOWNLOAD_DISK_MARGIN_MB
                                                          free space a download leaves on the models'
                                                          file system, checked before it starts and
                                                          as it goes (default: ${DEFAULT_DOWNLOAD_DISK_MARGIN_MB})
  --peer-max-transfers N       RBEE_PEER_MAX_TRANSFERS    model files sent to peer hives at once; one more
                                                          is answered 503 (default: ${D.peerMaxTransfers}; 0 = share none)
  --peer-max-attempts N        RBEE_PEER_MAX_ATTEMPTS     tries at a peer's copy (first transfer and its
                                                          resumes) before the next source, the hub last
                                                          (default: ${D.peerMaxAttempts})
  --worker-probe-interval-ms N RBEE_WORKER_PROBE_INTERVAL_MS
                                                          how often each ready worker's GET /health is
                                                          probed (default: ${DEFAULT_WORKER_PROBE.intervalMs}; 0 = never)
  --worker-probe-timeout-ms N  RBEE_WORKER_PROBE_TIMEOUT_MS
                                                          a probe unanswered this long makes the worker
                                                          unresponsive: out of routing (default: ${DEFAULT_WORKER_PROBE.timeoutMs})
  --worker-unresponsive-restart-ms N
                               RBEE_WORKER_UNRESPONSIVE_RESTART_MS
                                                          an unresponsive worker is killed (SIGKILL) and
                                                          restarted per the restart policy after this
                                                          long (default: ${DEFAULT_WORKER_PROBE.restartAfterMs})
                               HF_TOKEN                   Hugging Face token for gated/private repos
                               RBEE_EXIT_WITH_STDIN=1     stop when stdin closes (for a parent process
                                                          that holds it open as a lifeline)
`

/**
 * Builds the hive configuration from argv and env (flags win over env, env over defaults).
 * @throws ConfigError naming the flag and what is wrong.
 */
export function parseHiveConfig(argv: readonly string[], env: NodeJS.ProcessEnv): HiveConfig {
  const raw = readFlags(FLAGS, argv, env)
  raw.home ??= join(env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'rbee')
  if (typeof raw.home === 'string' && !isAbsolute(raw.home)) raw.home = resolve(raw.home)
  raw.import_dirs = (raw.import_dirs as string[]).map((d) => resolve(d))
  if (env.HF_TOKEN) raw.hf_token = env.HF_TOKEN
  if (typeof raw.token_file === 'string') {
    const file = resolve(raw.token_file)
    raw.token_file = file
    if (raw.token === undefined) raw.token = readSecretFile(file, 'node token')[0]
    // A token given by flag or env wins; the file then plays no part, on start or on reload.
    else delete raw.token_file
  }
  return validateFlags(FLAGS, HiveConfigSchema, raw)
}

export { ConfigError }
