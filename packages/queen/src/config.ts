import { homedir } from 'node:os'
import { isAbsolute, join, resolve } from 'node:path'
import { defaultHivesConfPath } from '@rbee/client'
import {
  ConfigError,
  type FlagKind,
  keyFingerprint,
  readFlags,
  readSecretFile,
  validateFlags,
} from '@rbee/common'
import {
  describeIssues,
  HostSchema,
  IdSchema,
  PrioritySchema,
  PriorityTextSchema,
  STREAM_IDLE_TIMEOUT_MS,
} from '@rbee/contracts'
import { z } from 'zod'
import { defaultModelsConfPath } from './models-conf.js'
import { QUEEN_DEFAULTS as D } from './queen-defaults.js'

const UrlSchema = z.url({ protocol: /^https?$/ })
const SecretSchema = z
  .string()
  .min(8, 'must be at least 8 characters')
  .max(4096)
  .regex(/^\S+$/, 'must not contain spaces')

/** Keys and node token as given by flags and env, and the files that add to them (re-read on SIGHUP). */
export const QueenKeySourcesSchema = z.object({
  api_keys: z.array(z.string()),
  admin_keys: z.array(z.string()),
  node_token: z.string().optional(),
  api_key_file: z.string().min(1).optional(),
  admin_key_file: z.string().min(1).optional(),
  node_token_file: z.string().min(1).optional(),
})
export type QueenKeySources = z.infer<typeof QueenKeySourcesSchema>

/** No key may be both a user and an admin key, and the node token is no API key. */
function refineKeys(
  c: { api_keys: readonly string[]; admin_keys: readonly string[]; node_token?: string | undefined },
  ctx: z.core.$RefinementCtx,
): void {
  const users = new Set(c.api_keys)
  if (c.admin_keys.some((k) => users.has(k))) {
    ctx.addIssue({
      code: 'custom',
      path: ['admin_keys'],
      message: 'a key cannot be both a user key and an admin key',
    })
  }
  if (c.node_token !== undefined && (users.has(c.node_token) || c.admin_keys.includes(c.node_token))) {
    ctx.addIssue({
      code: 'custom',
      path: ['node_token'],
      message: 'the node token must differ from every API key',
    })
  }
}

/** The keys and node token a queen accepts, merged from flags, env and files. */
export const QueenKeysSchema = z
  .object({
    api_keys: z.array(SecretSchema).max(10_000),
    admin_keys: z.array(SecretSchema).max(10_000),
    node_token: SecretSchema.optional(),
    key_priorities: z.record(z.string(), PrioritySchema),
  })
  .superRefine(refineKeys)
export type QueenKeys = z.infer<typeof QueenKeysSchema>

/** Everything `queen-rbee` is started with, after parsing and validation. */
export const QueenConfigSchema = z
  .object({
    host: HostSchema,
    port: z.int().min(0).max(65535),
    api_keys: z.array(SecretSchema).max(10_000),
    admin_keys: z.array(SecretSchema).max(10_000),
    node_token: SecretSchema.optional(),
    key_priorities: z.record(z.string(), PrioritySchema),
    audit_log: z.string().min(1),
    key_limit: z.int().min(0).max(1_000_000),
    job_grace_ms: z.int().min(0).max(3_600_000),
    hives_conf: z.string().min(1),
    models_conf: z.string().min(1),
    scale_out_wait_ms: z.int().min(0).max(3_600_000),
    max_replicas: z.int().min(1).max(1000),
    evict_hysteresis_ms: z.int().min(0).max(86_400_000),
    evict_wait_ms: z.int().min(100).max(3_600_000),
    home: z.string().min(1),
    local_hive: z.boolean(),
    local_hive_id: IdSchema.optional(),
    advertise_url: UrlSchema.optional(),
    queue_size: z.int().min(0).max(100_000),
    queue_timeout_ms: z.int().min(1).max(3_600_000),
    spawn_timeout_ms: z.int().min(1000).max(3_600_000),
    hive_wait_ms: z.int().min(0).max(3_600_000),
    idle_ttl_ms: z.int().min(0),
    builtin_idle_ttl_ms: z.int().min(0),
    worker_slots: z.int().min(1).max(64).optional(),
    worker_ctx_size: z.int().min(128).max(1_048_576).optional(),
    hive_interval_ms: z.int().min(50).max(3_600_000),
    hive_offline_ms: z.int().min(100).max(3_600_000),
    first_token_timeout_ms: z.int().min(0).max(86_400_000),
    token_gap_timeout_ms: z.int().min(0).max(86_400_000),
    // Below a third of the clients' silence bound (STREAM_IDLE_TIMEOUT_MS), which ends a stream
    // with nothing on it: a longer interval (or none) would end quiet job and fleet streams.
    keep_alive_ms: z
      .int()
      .min(100)
      .max(STREAM_IDLE_TIMEOUT_MS / 3),
    worker_heartbeat_interval_ms: z.int().min(100).max(3_600_000),
    body_limit: z
      .int()
      .min(1024)
      .max(1024 * 1024 * 1024),
    max_attempts: z.int().min(1).max(10),
    worker_transport: z.enum(['raw', 'undici']),
    import_dirs: z.array(z.string().min(1)),
    key_sources: QueenKeySourcesSchema,
  })
  .superRefine(refineKeys)
export type QueenConfig = z.infer<typeof QueenConfigSchema>

/** Flag → [config key, env var, default, kind]. Every flag also has an environment variable. */
const FLAGS: Record<
  string,
  readonly [keyof QueenConfig | keyof QueenKeySources, string, string | undefined, FlagKind]
> = {
  host: ['host', 'RBEE_HOST', D.host, 'string'],
  port: ['port', 'RBEE_PORT', String(D.port), 'int'],
  'api-key': ['api_keys', 'RBEE_API_KEYS', undefined, 'list'],
  'api-key-file': ['api_key_file', 'RBEE_API_KEY_FILE', undefined, 'string'],
  'admin-key': ['admin_keys', 'RBEE_ADMIN_KEYS', undefined, 'list'],
  'admin-key-file': ['admin_key_file', 'RBEE_ADMIN_KEY_FILE', undefined, 'string'],
  'audit-log': ['audit_log', 'RBEE_AUDIT_LOG', undefined, 'string'],
  'key-limit': ['key_limit', 'RBEE_KEY_LIMIT', String(D.keyLimit), 'int'],
  'job-grace-ms': ['job_grace_ms', 'RBEE_JOB_GRACE_MS', String(D.jobGraceMs), 'int'],
  'node-token': ['node_token', 'RBEE_NODE_TOKEN', undefined, 'string'],
  'node-token-file': ['node_token_file', 'RBEE_NODE_TOKEN_FILE', undefined, 'string'],
  'hives-conf': ['hives_conf', 'RBEE_HIVES_CONF', undefined, 'string'],
  'models-conf': ['models_conf', 'RBEE_MODELS_CONF', undefined, 'string'],
  'scale-out-wait-ms': ['scale_out_wait_ms', 'RBEE_SCALE_OUT_WAIT_MS', String(D.scaleOutWaitMs), 'int'],
  'max-replicas': ['max_replicas', 'RBEE_MAX_REPLICAS', String(D.maxReplicas), 'int'],
  'evict-hysteresis-ms': [
    'evict_hysteresis_ms',
    'RBEE_EVICT_HYSTERESIS_MS',
    String(D.evictHysteresisMs),
    'int',
  ],
  'evict-wait-ms': ['evict_wait_ms', 'RBEE_EVICT_WAIT_MS', String(D.evictWaitMs), 'int'],
  home: ['home', 'RBEE_HOME', undefined, 'string'],
  'no-local-hive': ['local_hive', 'RBEE_NO_LOCAL_HIVE', undefined, 'bool'],
  'local-hive-id': ['local_hive_id', 'RBEE_LOCAL_HIVE_ID', undefined, 'string'],
  'advertise-url': ['advertise_url', 'RBEE_ADVERTISE_URL', undefined, 'string'],
  'queue-size': ['queue_size', 'RBEE_QUEUE_SIZE', String(D.queueSize), 'int'],
  'queue-timeout-ms': ['queue_timeout_ms', 'RBEE_QUEUE_TIMEOUT_MS', String(D.queueTimeoutMs), 'int'],
  'spawn-timeout-ms': ['spawn_timeout_ms', 'RBEE_SPAWN_TIMEOUT_MS', String(D.spawnTimeoutMs), 'int'],
  'hive-wait-ms': ['hive_wait_ms', 'RBEE_HIVE_WAIT_MS', String(D.hiveWaitMs), 'int'],
  'idle-ttl-ms': ['idle_ttl_ms', 'RBEE_IDLE_TTL_MS', String(D.idleTtlMs), 'int'],
  'builtin-idle-ttl-ms': [
    'builtin_idle_ttl_ms',
    'RBEE_BUILTIN_IDLE_TTL_MS',
    String(D.builtinIdleTtlMs),
    'int',
  ],
  'worker-slots': ['worker_slots', 'RBEE_WORKER_SLOTS', undefined, 'int'],
  'worker-ctx-size': ['worker_ctx_size', 'RBEE_WORKER_CTX_SIZE', undefined, 'int'],
  'hive-interval-ms': ['hive_interval_ms', 'RBEE_HIVE_INTERVAL_MS', String(D.hiveIntervalMs), 'int'],
  'hive-offline-ms': ['hive_offline_ms', 'RBEE_HIVE_OFFLINE_MS', String(D.hiveOfflineMs), 'int'],
  'first-token-timeout-ms': [
    'first_token_timeout_ms',
    'RBEE_FIRST_TOKEN_TIMEOUT_MS',
    String(D.stall.firstTokenMs),
    'int',
  ],
  'token-gap-timeout-ms': [
    'token_gap_timeout_ms',
    'RBEE_TOKEN_GAP_TIMEOUT_MS',
    String(D.stall.tokenGapMs),
    'int',
  ],
  'keep-alive-ms': ['keep_alive_ms', 'RBEE_KEEP_ALIVE_MS', String(D.keepAliveMs), 'int'],
  'worker-heartbeat-interval-ms': [
    'worker_heartbeat_interval_ms',
    'RBEE_WORKER_HEARTBEAT_INTERVAL_MS',
    String(D.workerHeartbeatIntervalMs),
    'int',
  ],
  'body-limit': ['body_limit', 'RBEE_BODY_LIMIT', String(D.bodyLimit), 'int'],
  'max-attempts': ['max_attempts', 'RBEE_MAX_ATTEMPTS', String(D.maxAttempts), 'int'],
  // Not in --help: it switches the worker transport and the fast lane for A/B benchmarks.
  'worker-transport': ['worker_transport', 'RBEE_QUEEN_TRANSPORT', D.workerTransport, 'string'],
  'import-dir': ['import_dirs', 'RBEE_IMPORT_DIRS', undefined, 'list'],
}

const LOCAL_INTRO = `Usage: rbee-local [options]

queen-rbee with a hive for this machine in its process: with no hive configured it runs one
itself, so \`rbee-local\` alone serves the built-in model \`tiny\` (what \`rbee queen start\` runs).
`

const CONTROL_PLANE_INTRO = `Usage: queen-rbee [options]

The brain of rbee: one OpenAI-compatible address for every hive and worker. This queen-rbee runs
no hive itself (a control-plane install needs no llama.cpp): hives come from hives.conf or
register themselves; \`rbee-local\` (@rbee/local) is the same queen with this machine's hive.
`

/** \`--help\` of \`rbee-local\` (\`withLocalHive\`) or of the control-plane \`queen-rbee\`. */
export function queenUsage(withLocalHive: boolean): string {
  return `${withLocalHive ? LOCAL_INTRO : CONTROL_PLANE_INTRO}
${QUEEN_OPTIONS}`
}

const QUEEN_OPTIONS = `Options (each also read from the environment variable shown; flags win):
  --host ADDR                     RBEE_HOST                 bind address (default: ${D.host})
  --port N                        RBEE_PORT                 0 = the OS picks (default: ${D.port})
  --api-key KEY                   RBEE_API_KEYS             user key (inference, model list, own jobs);
                                                            repeat the flag, or comma-separate in the env var
  --api-key-file PATH             RBEE_API_KEY_FILE         file with one key per line: KEY (a user key),
                                                            'user KEY' or 'admin KEY', each optionally
                                                            followed by priority=low|normal|high|-100..100
                                                            (its requests' default); mode 600
  --admin-key KEY                 RBEE_ADMIN_KEYS           admin key (also model and worker management,
                                                            shutdown); repeatable, or comma-separated
  --admin-key-file PATH           RBEE_ADMIN_KEY_FILE       file with one admin key per line; mode 600
  --node-token T                  RBEE_NODE_TOKEN           secret shared with hives and workers
                                                            (generated for the local hive when keys are
                                                            set and none is given)
  --node-token-file PATH          RBEE_NODE_TOKEN_FILE      file holding the node token; mode 600
                                                            (keys and node token are required when
                                                            bound beyond loopback)
  --audit-log PATH                RBEE_AUDIT_LOG            JSON lines of refusals and admin actions
                                                            (default: HOME/logs/audit.log)
  --key-limit N                   RBEE_KEY_LIMIT            requests one key may have queued or running
                                                            (default: ${D.keyLimit}; 0 = no limit)
  --job-grace-ms N                RBEE_JOB_GRACE_MS         a job nobody follows is cancelled after this
                                                            (default: ${D.jobGraceMs}; 0 = never)
  --hives-conf PATH               RBEE_HIVES_CONF           hives (default: ~/.config/rbee/hives.conf)
  --models-conf PATH              RBEE_MODELS_CONF          per model: pin, min_replicas, max_replicas, ttl,
                                                            priority (default: models.conf beside hives.conf;
                                                            re-read on SIGHUP)
  --scale-out-wait-ms N           RBEE_SCALE_OUT_WAIT_MS    another replica when a model's queue would wait
                                                            longer (default: ${D.scaleOutWaitMs}; 0 = never)
  --max-replicas N                RBEE_MAX_REPLICAS         most workers of one model scale-out runs, unless
                                                            models.conf says (default: ${D.maxReplicas})
  --evict-hysteresis-ms N         RBEE_EVICT_HYSTERESIS_MS  a worker loaded this recently is not stopped to
                                                            make room for an equal or lower priority
                                                            (default: ${D.evictHysteresisMs})
  --evict-wait-ms N               RBEE_EVICT_WAIT_MS        longest wait for evicted workers' memory to come
                                                            back (default: ${D.evictWaitMs})
  --home DIR                      RBEE_HOME                 data dir of the local hive
                                                            (default: ~/.local/share/rbee)
  --no-local-hive                 RBEE_NO_LOCAL_HIVE=1      never run a hive in-process
  --local-hive-id ID              RBEE_LOCAL_HIVE_ID        id of the local hive (default: host name)
  --advertise-url URL             RBEE_ADVERTISE_URL        URL hives and workers use for the queen
  --queue-size N                  RBEE_QUEUE_SIZE           waiting requests per model (default: ${D.queueSize})
  --queue-timeout-ms N            RBEE_QUEUE_TIMEOUT_MS     longest wait for a slot without a deadline (default: ${D.queueTimeoutMs})
  --spawn-timeout-ms N            RBEE_SPAWN_TIMEOUT_MS     longest spawn on demand (default: ${D.spawnTimeoutMs})
  --hive-wait-ms N                RBEE_HIVE_WAIT_MS         longest wait for an offline hive before a spawn
                                                            or hive operation fails (default: ${D.hiveWaitMs})
  --idle-ttl-ms N                 RBEE_IDLE_TTL_MS          stop idle workers after (default: ${D.idleTtlMs}; 0 = never)
  --builtin-idle-ttl-ms N         RBEE_BUILTIN_IDLE_TTL_MS  the same for built-in models (default: ${D.builtinIdleTtlMs} = never)
  --worker-slots N                RBEE_WORKER_SLOTS         slots of workers spawned on demand (default: hive's)
  --worker-ctx-size N             RBEE_WORKER_CTX_SIZE      context of workers spawned on demand (default: hive's)
  --hive-interval-ms N            RBEE_HIVE_INTERVAL_MS     hive telemetry period (default: ${D.hiveIntervalMs})
  --hive-offline-ms N             RBEE_HIVE_OFFLINE_MS      a hive whose stream is quiet this long is offline
                                                            though its host answers; quiet for 1 s it is
                                                            suspect, and offline at once if its host does
                                                            not accept a connection (default: ${D.hiveOfflineMs})
  --first-token-timeout-ms N      RBEE_FIRST_TOKEN_TIMEOUT_MS
                                                            no first token this long: the worker counts as
                                                            failed and the request moves to another; raised
                                                            for long prompts and slow workers (default:
                                                            ${D.stall.firstTokenMs}; 0 = no bound)
  --token-gap-timeout-ms N        RBEE_TOKEN_GAP_TIMEOUT_MS no next token this long: the stream ends with
                                                            RBEE_WORKER_STALLED; raised for slow workers
                                                            (default: ${D.stall.tokenGapMs}; 0 = no bound)
  --keep-alive-ms N               RBEE_KEEP_ALIVE_MS        a quiet SSE stream gets a keep-alive comment
                                                            this often (default: ${D.keepAliveMs}; 100..10000)
  --worker-heartbeat-interval-ms N  RBEE_WORKER_HEARTBEAT_INTERVAL_MS  (default: ${D.workerHeartbeatIntervalMs})
  --body-limit BYTES              RBEE_BODY_LIMIT           largest request body (default: ${D.bodyLimit / 1024 / 1024} MiB)
  --max-attempts N                RBEE_MAX_ATTEMPTS         tries per request before the first token (default: ${D.maxAttempts})
  --import-dir DIR                RBEE_IMPORT_DIRS          another directory the local hive imports models from;
                                                            repeat, or comma-separate in the env var
                                                            (always allowed: HOME/import, HOME/models)
  --help, --version
`

/**
 * A key file's lines: `KEY` or `user KEY` (a user key), `admin KEY` (an admin key), each with an
 * optional `priority=P` after it (`low`, `normal`, `high` or -100..100): the priority of that
 * key's requests that send no `X-Request-Priority`.
 */
function readKeyFile(path: string): { user: string[]; admin: string[]; priorities: Record<string, number> } {
  const out = { user: [] as string[], admin: [] as string[], priorities: {} as Record<string, number> }
  readSecretFile(path, 'API key').forEach((line, i) => {
    const words = line.split(/\s+/)
    const last = words.at(-1) ?? ''
    let priority: number | undefined
    // A lone `priority=high` is a priority that lost its key, never a key of that name.
    if (words.length === 1 && last.startsWith('priority=')) {
      throw new ConfigError(`${path} line ${i + 1}: priority=P without a key before it`)
    }
    if (words.length > 1 && last.startsWith('priority=')) {
      words.pop()
      const p = PriorityTextSchema.safeParse(last.slice('priority='.length))
      if (!p.success) throw new ConfigError(`${path} line ${i + 1}: priority ${p.error.issues[0]?.message}`)
      priority = p.data
    }
    const role = words.length === 2 ? words[0] : 'user'
    const key = words.at(-1)!
    if (words.length > 2 || (role !== 'user' && role !== 'admin')) {
      throw new ConfigError(
        `${path} line ${i + 1}: expected KEY, 'user KEY' or 'admin KEY', each optionally followed by priority=P`,
      )
    }
    out[role].push(key)
    if (priority !== undefined) out.priorities[keyFingerprint(key)] = priority
  })
  return out
}

/**
 * The keys and node token of `sources`: those given by flags and env plus what the key files
 * hold now (files are read again on every call: SIGHUP reloads them). A node token flag wins
 * over the node token file.
 * @throws ConfigError naming the file and what is wrong with it.
 */
export function readQueenKeys(sources: QueenKeySources): {
  api_keys: string[]
  admin_keys: string[]
  node_token: string | undefined
  /** Per key fingerprint, the priority its key file gives it. */
  key_priorities: Record<string, number>
} {
  const out = {
    api_keys: [...sources.api_keys],
    admin_keys: [...sources.admin_keys],
    node_token: sources.node_token,
    key_priorities: {} as Record<string, number>,
  }
  if (sources.api_key_file !== undefined) {
    const keys = readKeyFile(sources.api_key_file)
    out.api_keys.push(...keys.user)
    out.admin_keys.push(...keys.admin)
    Object.assign(out.key_priorities, keys.priorities)
  }
  if (sources.admin_key_file !== undefined) {
    out.admin_keys.push(...readSecretFile(sources.admin_key_file, 'admin key'))
  }
  if (sources.node_token_file !== undefined && out.node_token === undefined) {
    out.node_token = readSecretFile(sources.node_token_file, 'node token')[0]
  }
  return out
}

/**
 * `readQueenKeys`, validated as at start (lengths, no key both user and admin…), for a reload.
 * @throws ConfigError naming the files and what is wrong.
 */
export function reloadQueenKeys(sources: QueenKeySources): QueenKeys {
  const parsed = QueenKeysSchema.safeParse(readQueenKeys(sources))
  if (parsed.success) return parsed.data
  const files = [sources.api_key_file, sources.admin_key_file, sources.node_token_file].filter(
    (f) => f !== undefined,
  )
  throw new ConfigError(`the keys in ${files.join(', ')}: ${describeIssues(parsed.error)}`)
}

/**
 * Builds the queen configuration from argv and env (flags win over env, env over defaults).
 * @throws ConfigError naming the flag and what is wrong.
 */
export function parseQueenConfig(argv: readonly string[], env: NodeJS.ProcessEnv): QueenConfig {
  const raw = readFlags(FLAGS, argv, env)
  // The switch is `--no-local-hive`; the setting is whether to run one.
  raw.local_hive = raw.local_hive !== true
  if ((raw.api_keys as string[]).length === 0 && env.RBEE_API_KEY) raw.api_keys = [env.RBEE_API_KEY.trim()]
  if ((raw.admin_keys as string[]).length === 0 && env.RBEE_ADMIN_KEY)
    raw.admin_keys = [env.RBEE_ADMIN_KEY.trim()]
  for (const k of ['api_key_file', 'admin_key_file', 'node_token_file'] as const) {
    if (typeof raw[k] === 'string' && !isAbsolute(raw[k])) raw[k] = resolve(raw[k])
  }
  const sources = QueenKeySourcesSchema.parse({
    api_keys: raw.api_keys,
    admin_keys: raw.admin_keys,
    node_token: raw.node_token,
    api_key_file: raw.api_key_file,
    admin_key_file: raw.admin_key_file,
    node_token_file: raw.node_token_file,
  })
  Object.assign(raw, readQueenKeys(sources), { key_sources: sources })
  delete raw.api_key_file
  delete raw.admin_key_file
  delete raw.node_token_file
  raw.hives_conf ??= defaultHivesConfPath(env)
  if (typeof raw.hives_conf === 'string' && !isAbsolute(raw.hives_conf))
    raw.hives_conf = resolve(raw.hives_conf)
  raw.models_conf ??= defaultModelsConfPath(raw.hives_conf as string)
  raw.home ??= join(env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'rbee')
  raw.audit_log ??= join(raw.home as string, 'logs', 'audit.log')
  for (const k of ['home', 'hives_conf', 'models_conf', 'audit_log'] as const) {
    if (typeof raw[k] === 'string' && !isAbsolute(raw[k])) raw[k] = resolve(raw[k])
  }
  raw.import_dirs = (raw.import_dirs as string[]).map((d) => resolve(d))
  return validateFlags(FLAGS, QueenConfigSchema, raw)
}

export { ConfigError }
