import { existsSync, statSync } from 'node:fs'
import { availableParallelism, homedir } from 'node:os'
import { join } from 'node:path'
import { ConfigError, type FlagTable, readFlags, validateFlags } from '@rbee/common'
import {
  type Backend,
  BackendRequestSchema,
  BackendSchema,
  BUILTIN_MODEL_ID,
  DeviceSelectionSchema,
  HostSchema,
  IdSchema,
} from '@rbee/contracts'
import { z } from 'zod'
import { WORKER_DEFAULTS as D } from './worker-defaults.js'

/** Everything a worker needs, after parsing and validation. */
export const WorkerConfigSchema = z.object({
  worker_id: IdSchema,
  model: z
    .string()
    .min(1)
    .refine((p) => p === BUILTIN_MODEL_ID || (existsSync(p) && statSync(p).isFile()), 'no such model file'),
  model_ref: z.string().min(1).max(512),
  backend: BackendRequestSchema,
  /** GPU indexes: one, or several to split the model across (`0,1`). */
  device: z
    .string()
    .regex(/^\d{1,2}(,\d{1,2})*$/, 'must be a GPU index or a comma-separated list of them, e.g. 0 or 0,1')
    .transform((s) => s.split(',').map(Number))
    .refine(
      (l) => DeviceSelectionSchema.safeParse(l).success,
      'at most 16 different GPU indexes, each 0 to 63',
    ),
  host: HostSchema,
  /** The host put in WorkerInfo and URLs; defaults to `host` unless that is a wildcard address. */
  advertise_host: HostSchema.optional(),
  port: z.int().min(0).max(65535),
  hive_url: z.url().optional(),
  hive_id: IdSchema.optional(),
  queen_url: z.url().optional(),
  slots: z.int().min(1).max(64),
  ctx_size: z.int().min(128).max(1_048_576),
  threads: z.int().min(0).max(1024),
  api_token: z.string().min(8, 'must be at least 8 characters').optional(),
  heartbeat_interval_ms: z.int().min(100).max(3_600_000),
  slot_wait_ms: z.int().min(0).max(600_000),
  grace_ms: z.int().min(0).max(3_600_000),
  /** Which llama.cpp binary: the prebuilt one from npm, or one built here (`npm run build:llama`). */
  llama_build: z.enum(['auto', 'prebuilt', 'local']),
  /** Run every batch shape once before reporting ready: `auto` = on a GPU only. */
  warmup: z.enum(['auto', 'on', 'off']),
  /** Data dir; the built-in model is generated under `<home>/models`. */
  home: z.string().min(1),
})
export type WorkerConfig = z.infer<typeof WorkerConfigSchema>

/** Flag name → [config key, env var, default, kind]. Every flag also has an `RBEE_*` env var. */
const FLAGS: FlagTable = {
  'worker-id': ['worker_id', 'RBEE_WORKER_ID', undefined, 'string'],
  model: ['model', 'RBEE_MODEL', undefined, 'string'],
  'model-ref': ['model_ref', 'RBEE_MODEL_REF', undefined, 'string'],
  backend: ['backend', 'RBEE_BACKEND', D.backend, 'string'],
  device: ['device', 'RBEE_DEVICE', D.device, 'string'],
  host: ['host', 'RBEE_HOST', D.host, 'string'],
  'advertise-host': ['advertise_host', 'RBEE_ADVERTISE_HOST', undefined, 'string'],
  port: ['port', 'RBEE_PORT', String(D.port), 'int'],
  'hive-url': ['hive_url', 'RBEE_HIVE_URL', undefined, 'string'],
  'hive-id': ['hive_id', 'RBEE_HIVE_ID', undefined, 'string'],
  'queen-url': ['queen_url', 'RBEE_QUEEN_URL', undefined, 'string'],
  slots: ['slots', 'RBEE_SLOTS', String(D.slots), 'int'],
  'ctx-size': ['ctx_size', 'RBEE_CTX_SIZE', String(D.ctxSize), 'int'],
  threads: ['threads', 'RBEE_THREADS', undefined, 'int'],
  'api-token': ['api_token', 'RBEE_API_TOKEN', undefined, 'string'],
  'heartbeat-interval-ms': [
    'heartbeat_interval_ms',
    'RBEE_HEARTBEAT_INTERVAL_MS',
    String(D.heartbeatIntervalMs),
    'int',
  ],
  'slot-wait-ms': ['slot_wait_ms', 'RBEE_SLOT_WAIT_MS', String(D.slotWaitMs), 'int'],
  'grace-ms': ['grace_ms', 'RBEE_GRACE_MS', String(D.graceMs), 'int'],
  home: ['home', 'RBEE_HOME', undefined, 'string'],
  'llama-build': ['llama_build', 'RBEE_LLAMA_BUILD', D.llamaBuild, 'string'],
  warmup: ['warmup', 'RBEE_WARMUP', D.warmup, 'string'],
}

export const WORKER_USAGE = `Usage: llm-worker-rbee --model <file.gguf> [options]

Serves one GGUF model over HTTP (native /v1/infer and OpenAI-compatible routes).

Options (each also read from the environment variable shown):
  --worker-id ID           RBEE_WORKER_ID          id reported to hive and queen (default: worker-<pid>)
  --model PATH|tiny        RBEE_MODEL              the .gguf file to load, or tiny (the built-in test model)
  --model-ref ID           RBEE_MODEL_REF          catalog id reported as model_id (default: file name)
  --backend B              RBEE_BACKEND            auto|cpu|cuda|vulkan|metal (default: ${D.backend})
  --device N[,N...]        RBEE_DEVICE             GPU index, or indexes to split the model across
                                                   (0,1: llama.cpp's layer split) (default: ${D.device})
  --host ADDR              RBEE_HOST               bind address (default: ${D.host})
  --advertise-host H       RBEE_ADVERTISE_HOST     host others use to reach this worker
  --port N                 RBEE_PORT               0 = the OS picks (default: ${D.port})
  --hive-url URL           RBEE_HIVE_URL           the hive that owns this worker
  --hive-id ID             RBEE_HIVE_ID            that hive's id
  --queen-url URL          RBEE_QUEEN_URL          where heartbeats go (none: no heartbeats)
  --slots N                RBEE_SLOTS              parallel sequences decoded together (default: ${D.slots})
  --ctx-size N             RBEE_CTX_SIZE           context tokens per slot (default: ${D.ctxSize})
  --threads N              RBEE_THREADS            generation threads, 0 = all cores (default: cores - 1, see README)
  --api-token T            RBEE_API_TOKEN          required bearer token; mandatory when not on loopback
  --heartbeat-interval-ms  RBEE_HEARTBEAT_INTERVAL_MS  (default: ${D.heartbeatIntervalMs})
  --slot-wait-ms N         RBEE_SLOT_WAIT_MS       wait for a free slot before 503 (default: ${D.slotWaitMs})
  --grace-ms N             RBEE_GRACE_MS           drain time on SIGTERM (default: ${D.graceMs})
  --home DIR               RBEE_HOME               data dir (default: ~/.local/share/rbee)
  --llama-build B          RBEE_LLAMA_BUILD        auto|prebuilt|local: local = the llama.cpp built here by
                                                   \`npm run build:llama\` (faster on CPU); auto = local if present
  --warmup W               RBEE_WARMUP             auto|on|off: before reporting ready, run every batch
                                                   shape once (GPU kernels compile on first use);
                                                   auto = on a GPU only (default: ${D.warmup})

       llm-worker-rbee --probe-backends [cpu,cuda,vulkan,metal]

Loads each llama.cpp build (default: all four) the way a worker would, without a model, and
prints one JSON line per build ({"type":"backend_checked",…}) and then a summary line
({"type":"backend_probe",…}: BackendProbe in @rbee/contracts): whether it loads, the GPUs it
sees with their memory, and for a build that does not load, why (what to install). The hive
runs this at start; \`rbee doctor\` shows it.
`

/**
 * Builds the worker configuration from argv and env (flags win). The default thread count is one
 * per core minus one: a hive runs several workers and other processes share the CPU, and
 * llama.cpp's compute threads spin-wait for each other, so an oversubscribed CPU collapses (the
 * test suite with 2 threads per worker on 2 cores ran generations many times slower). A single
 * worker on an idle CPU was faster with every core (bench/RESULTS.md): pass `--threads`.
 * @throws ConfigError naming the flag and what is wrong.
 */
export function parseWorkerConfig(argv: readonly string[], env: NodeJS.ProcessEnv): WorkerConfig {
  const raw = readFlags(FLAGS, argv, env)
  raw.threads ??= Math.max(1, availableParallelism() - 1)
  raw.worker_id ??= `worker-${process.pid}`
  raw.home ??= join(env.HOME ?? homedir(), '.local', 'share', 'rbee')
  if (typeof raw.model === 'string') raw.model_ref ??= raw.model.replace(/^.*\//, '').replace(/\.gguf$/i, '')
  return validateFlags(FLAGS, WorkerConfigSchema, raw)
}

export { ConfigError }

/**
 * The builds `--probe-backends [LIST]` tries: all of them without a list.
 * @throws ConfigError for a name that is not a backend.
 */
export function parseProbeBackends(list: string | undefined): Backend[] | undefined {
  if (list === undefined || list.startsWith('--')) return undefined
  return list.split(',').map((name) => {
    const parsed = BackendSchema.safeParse(name.trim())
    if (!parsed.success)
      throw new ConfigError(
        `--probe-backends: ${JSON.stringify(name)} is not one of cpu, cuda, vulkan, metal`,
      )
    return parsed.data
  })
}
