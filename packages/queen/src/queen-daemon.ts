import { loadHivesConf } from '@rbee/client'
import { ConfigError, type Daemon, type DaemonSpec, RELOAD_DONE, serialized } from '@rbee/common'
import { parseQueenConfig, type QueenConfig, queenUsage } from './config.js'
import type { LocalHiveProvider } from './hives/local-hive.js'
import { loadModelsConf } from './models-conf.js'
import { Queen } from './queen.js'
import { readQueenReload } from './reload.js'
import { VERSION } from './version.js'

/** Builds the in-process hive of a zero-config queen from the queen's configuration. */
export type LocalHiveFactory = (config: QueenConfig, env: NodeJS.ProcessEnv) => LocalHiveProvider

/**
 * `queen-rbee` as `runDaemon` runs it: argv/env → `QueenConfig` → a `Queen`; SIGHUP re-reads
 * hives.conf and the key files. Stdout carries one JSON line for a parent process
 * (`{"type":"listening",…}`); logs go to stderr.
 *
 * Without `localHive` (this package's own `queen-rbee`) the queen is a control plane: hives join
 * from hives.conf or by registering. `@rbee/local` passes the factory of an in-process hive.
 */
export function queenDaemon(localHive?: LocalHiveFactory): DaemonSpec<Daemon & { queen: Queen }> {
  const name = 'queen-rbee'
  return {
    name,
    usage: queenUsage(localHive !== undefined),
    version: VERSION,
    // The local hive stops its workers within their own grace; past this something hangs.
    forceExitMs: 30_000,
    // `rbee queen start --foreground`: the terminal's Ctrl+C and the CLI's SIGTERM arrive together.
    repeatStop: 'ignore',
    create: async ({ argv, env, logger, stop }) => {
      const config = parseQueenConfig(argv, env)
      if (!localHive) {
        if (config.local_hive_id !== undefined || config.import_dirs.length > 0) {
          throw new ConfigError(
            `--${config.local_hive_id !== undefined ? 'local-hive-id' : 'import-dir'}: this queen-rbee runs no local hive (a control-plane install); rbee-local (@rbee/local) runs one`,
          )
        }
      }
      const hives = await loadHivesConf(config.hives_conf)
      const models = await loadModelsConf(config.models_conf)
      const provider = config.local_hive && hives.length === 0 ? localHive?.(config, env) : undefined
      if (!localHive && config.local_hive && hives.length === 0) {
        logger.info('no hive configured and no local hive in this install: hives join by registering')
      }
      const queen = new Queen({
        host: config.host,
        port: config.port,
        apiKeys: config.api_keys,
        adminKeys: config.admin_keys,
        keyPriorities: config.key_priorities,
        nodeToken: config.node_token,
        auditLog: config.audit_log,
        keyLimit: config.key_limit,
        jobGraceMs: config.job_grace_ms,
        hives,
        models,
        scaleOutWaitMs: config.scale_out_wait_ms,
        maxReplicas: config.max_replicas,
        evictHysteresisMs: config.evict_hysteresis_ms,
        evictWaitMs: config.evict_wait_ms,
        localHive: provider,
        localHiveId: config.local_hive_id,
        advertiseUrl: config.advertise_url,
        hiveIntervalMs: config.hive_interval_ms,
        hiveOfflineMs: config.hive_offline_ms,
        stall: { firstTokenMs: config.first_token_timeout_ms, tokenGapMs: config.token_gap_timeout_ms },
        keepAliveMs: config.keep_alive_ms,
        workerHeartbeatIntervalMs: config.worker_heartbeat_interval_ms,
        queueSize: config.queue_size,
        queueTimeoutMs: config.queue_timeout_ms,
        spawnTimeoutMs: config.spawn_timeout_ms,
        hiveWaitMs: config.hive_wait_ms,
        idleTtlMs: config.idle_ttl_ms,
        builtinIdleTtlMs: config.builtin_idle_ttl_ms,
        workerSlots: config.worker_slots,
        workerCtxSize: config.worker_ctx_size,
        bodyLimit: config.body_limit,
        maxAttempts: config.max_attempts,
        workerTransport: config.worker_transport,
        logger,
        onShutdownRequest: () => stop('POST /v1/shutdown'),
      })
      // Each reload's lines carry its number, so `rbee queen reload` can pick them out of the log.
      let reloads = 0
      const reload = serialized(async () => {
        const log = logger.child({ reload: ++reloads })
        const running = { configuredHives: queen.configuredHives, models: queen.modelsConf.size }
        queen.reload(await readQueenReload(config, running, log), log)
        log.info(RELOAD_DONE)
      })
      return { queen, close: () => queen.close(), reload }
    },
    start: async ({ queen }) => {
      const { url, port } = await queen.start()
      process.stdout.write(
        `${JSON.stringify({ type: 'listening', port, url, pid: process.pid, local_hive: queen.localHiveId })}\n`,
      )
    },
  }
}
