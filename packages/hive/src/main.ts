#!/usr/bin/env node
// rbee-hive: the only place that reads argv/env, installs signal handlers and exits.
import { createLogger, errorMessage, RbeeError, RELOAD_DONE } from '@rbee/common'
import { ConfigError, HIVE_USAGE, type HiveConfig, parseHiveConfig } from './config.js'
import { Hive } from './hive.js'
import { findExecutable } from './monitor/nvidia-smi.js'
import { reloadHiveFiles } from './reload.js'

function nvidiaSmiPath(config: HiveConfig): string | null {
  if (config.nvidia_smi === 'none') return null
  return config.nvidia_smi ?? findExecutable('nvidia-smi', process.env.PATH ?? '') ?? null
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2)
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(HIVE_USAGE)
    return
  }
  let config: HiveConfig
  try {
    config = parseHiveConfig(argv, process.env)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    process.stderr.write(`rbee-hive: ${err.message}\nRun rbee-hive --help for usage.\n`)
    process.exit(2)
  }

  const logger = createLogger({ name: 'rbee-hive' })
  let stopping = false
  const stop = (why: string): void => {
    if (stopping) {
      logger.warn({ why }, 'second stop request: exiting now')
      process.exit(1)
    }
    stopping = true
    logger.info({ why }, 'stopping')
    hive.close().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  }
  let hive: Hive
  try {
    hive = new Hive({
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
      nvidiaSmi: nvidiaSmiPath(config),
      backendProbe: config.backend_probe === 'none' ? null : config.backend_probe,
      backendProbeTimeoutMs: config.backend_probe_timeout_ms,
      workerBin: config.worker_bin,
      workerEnv: process.env,
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
  } catch (err) {
    if (!(err instanceof RbeeError) || err.code !== 'RBEE_CONFIG') throw err
    process.stderr.write(`rbee-hive: ${err.message}\n`)
    process.exit(2)
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  // SIGHUP re-reads the hive's files and keeps serving (it used to end the process).
  process.on('SIGHUP', () => {
    reloadHiveFiles(config, logger)
    logger.info(RELOAD_DONE)
  })
  if (process.env.RBEE_EXIT_WITH_STDIN === '1') {
    // The parent holds our stdin open; when it goes away (even killed -9), so do we.
    process.stdin.on('end', () => stop('stdin closed'))
    process.stdin.resume()
  }

  try {
    await hive.start()
  } catch (err) {
    process.stderr.write(`rbee-hive: cannot start: ${errorMessage(err)}\n`)
    await hive.close()
    process.exit(1)
  }
  // One JSON line for whoever started us (tests, the queen's launcher); people read stderr.
  process.stdout.write(
    `${JSON.stringify({ type: 'listening', port: hive.port, hive_id: hive.hiveId, url: hive.url, home: hive.dirs.home })}\n`,
  )
}

main().catch((err: unknown) => {
  process.stderr.write(`rbee-hive: ${errorMessage(err)}\n`)
  process.exit(1)
})
