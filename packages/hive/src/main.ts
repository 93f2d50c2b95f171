#!/usr/bin/env node
// rbee-hive: the only place that reads argv/env, installs signal handlers and exits.
import { type Daemon, RELOAD_DONE, runDaemon } from '@rbee/common'
import { HIVE_USAGE, type HiveConfig, parseHiveConfig } from './config.js'
import { Hive } from './hive.js'
import { findExecutable } from './monitor/nvidia-smi.js'
import { reloadHiveFiles } from './reload.js'
import { VERSION } from './version.js'

function nvidiaSmiPath(config: HiveConfig, env: NodeJS.ProcessEnv): string | null {
  if (config.nvidia_smi === 'none') return null
  return config.nvidia_smi ?? findExecutable('nvidia-smi', env.PATH ?? '') ?? null
}

await runDaemon<Daemon & { hive: Hive }>({
  name: 'rbee-hive',
  usage: HIVE_USAGE,
  version: VERSION,
  repeatStop: 'exit',
  create: async ({ argv, env, logger, stop }) => {
    const config = parseHiveConfig(argv, env)
    const hive = new Hive({
      home: config.home,
      hiveId: config.hive_id,
      host: config.host,
      port: config.port,
      queenUrl: config.queen_url,
      advertiseUrl: config.advertise_url,
      token: config.token,
      telemetryIntervalMs: config.telemetry_interval_ms,
      logger,
      hfEndpoint: config.hf_endpoint,
      hfToken: config.hf_token,
      hfTimeoutMs: config.hf_timeout_ms,
      downloadStallTimeoutMs: config.download_stall_timeout_ms,
      downloadDiskMarginBytes: config.download_disk_margin_mb * 1024 * 1024,
      peerMaxTransfers: config.peer_max_transfers,
      peerMaxAttempts: config.peer_max_attempts,
      nvidiaSmi: nvidiaSmiPath(config, env),
      backendProbe: config.backend_probe === 'none' ? null : config.backend_probe,
      backendProbeTimeoutMs: config.backend_probe_timeout_ms,
      workerBin: config.worker_bin,
      cpuMemoryMb: config.cpu_memory_mb,
      workerEnv: env,
      restartPolicy: {
        policy: config.restart_policy,
        maxRestarts: config.max_restarts,
        windowMs: config.restart_window_ms,
        backoffInitialMs: config.restart_backoff_ms,
      },
      workerStopGraceMs: config.worker_stop_grace_ms,
      workerProbe: {
        intervalMs: config.worker_probe_interval_ms,
        timeoutMs: config.worker_probe_timeout_ms,
        restartAfterMs: config.worker_unresponsive_restart_ms,
      },
      importDirs: config.import_dirs,
      onShutdownRequest: () => stop('POST /v1/shutdown'),
    })
    return {
      hive,
      close: () => hive.close(),
      // SIGHUP re-reads the hive's files and keeps serving (it used to end the process).
      reload: () => {
        reloadHiveFiles(config, logger)
        logger.info(RELOAD_DONE)
      },
    }
  },
  start: async ({ hive }) => {
    await hive.start()
    // One JSON line for whoever started us (tests, the queen's launcher); people read stderr.
    process.stdout.write(
      `${JSON.stringify({ type: 'listening', port: hive.port, hive_id: hive.hiveId, url: hive.url, home: hive.dirs.home })}\n`,
    )
  },
})
