import { hostname } from 'node:os'
import { Hive, hiveIdFromHostname } from '@rbee/hive'
import type { LocalHiveProvider, QueenConfig } from '@rbee/queen'

/** What the in-process hive takes besides what the queen tells it (`LocalHiveLink`). */
export interface InProcessHiveOptions {
  /** The data dir (`$RBEE_HOME`): catalog, models, logs. */
  home: string
  /** Where `model_import` may read besides `$RBEE_HOME/import` and its models dir. */
  importDirs: readonly string[]
  /** The Hugging Face endpoint and token its downloads use. @default the hive's */
  hfEndpoint?: string | undefined
  hfToken?: string | undefined
  /** The `nvidia-smi` to run; `null` for none. @default the hive's search of the usual places */
  nvidiaSmi?: string | null | undefined
  /** Its backend probe (see `HiveOptions.backendProbe`); `null` for none. @default the hive's */
  backendProbe?: string | null | undefined
}

/** A `rbee-hive` on 127.0.0.1 (port 0) in the queen's process, for a queen with no hive configured. */
export function inProcessHive(o: InProcessHiveOptions): LocalHiveProvider {
  return {
    defaultHiveId: () => hiveIdFromHostname(hostname()),
    create: (link) =>
      new Hive({
        home: o.home,
        hiveId: link.hiveId,
        host: '127.0.0.1',
        port: 0,
        queenUrl: link.queenUrl,
        token: link.token,
        audit: link.audit,
        logger: link.logger,
        // Same process: the queen's /metrics has the process figures.
        processMetrics: false,
        telemetryIntervalMs: link.telemetryIntervalMs,
        ...(link.workerSlots ? { workerSlots: link.workerSlots } : {}),
        ...(link.workerCtxSize ? { workerCtxSize: link.workerCtxSize } : {}),
        hfEndpoint: o.hfEndpoint,
        hfToken: o.hfToken,
        nvidiaSmi: o.nvidiaSmi,
        backendProbe: o.backendProbe,
        importDirs: o.importDirs,
      }),
  }
}

/** `none` turns a tool off; unset or empty leaves it to the hive. */
function toolPath(value: string | undefined): string | null | undefined {
  return value === 'none' ? null : value || undefined
}

/** The in-process hive of `rbee-local`, from the queen's flags and the hive's environment variables. */
export function inProcessHiveFromConfig(config: QueenConfig, env: NodeJS.ProcessEnv): LocalHiveProvider {
  return inProcessHive({
    home: config.home,
    importDirs: config.import_dirs,
    hfEndpoint: env.HF_ENDPOINT || undefined,
    hfToken: env.HF_TOKEN || undefined,
    nvidiaSmi: toolPath(env.RBEE_NVIDIA_SMI),
    backendProbe: toolPath(env.RBEE_BACKEND_PROBE),
  })
}
