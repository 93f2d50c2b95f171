#!/usr/bin/env node
import { loadHivesConf } from '@rbee/client'
import { createLogger, errorMessage, RbeeError, RELOAD_DONE, serialized } from '@rbee/common'
import { ConfigError, parseQueenConfig, QUEEN_USAGE } from './config.js'
import { Queen } from './queen.js'
import { readQueenReload } from './reload.js'
import { VERSION } from './version.js'

// The one place that reads argv/env, installs signal handlers and exits. Stdout carries one
// JSON line for a parent process ({"type":"listening",...}); logs go to stderr.

const args = process.argv.slice(2)
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(QUEEN_USAGE)
  process.exit(0)
}
if (args.includes('--version')) {
  process.stdout.write(`${VERSION}\n`)
  process.exit(0)
}

const logger = createLogger({ name: 'queen-rbee' })

function fail(message: string, code: number): never {
  logger.fatal({ msg_for_user: message }, 'queen-rbee cannot start')
  process.stderr.write(`queen-rbee: ${message}\n`)
  process.exit(code)
}

let queen: Queen
try {
  const config = parseQueenConfig(args, process.env)
  const hives = await loadHivesConf(config.hives_conf)
  let stopping = false
  const stop = (why: string): void => {
    if (stopping) return
    stopping = true
    logger.info({ why }, 'stopping')
    const force = setTimeout(() => process.exit(1), 30_000)
    force.unref()
    void queen.close().then(() => process.exit(0))
  }
  queen = new Queen({
    host: config.host,
    port: config.port,
    home: config.home,
    apiKeys: config.api_keys,
    adminKeys: config.admin_keys,
    nodeToken: config.node_token,
    auditLog: config.audit_log,
    keyLimit: config.key_limit,
    jobGraceMs: config.job_grace_ms,
    hives,
    localHive: config.local_hive,
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
    hfEndpoint: process.env.HF_ENDPOINT || undefined,
    hfToken: process.env.HF_TOKEN || undefined,
    nvidiaSmi: process.env.RBEE_NVIDIA_SMI === 'none' ? null : process.env.RBEE_NVIDIA_SMI || undefined,
    backendProbe:
      process.env.RBEE_BACKEND_PROBE === 'none' ? null : process.env.RBEE_BACKEND_PROBE || undefined,
    bodyLimit: config.body_limit,
    maxAttempts: config.max_attempts,
    importDirs: config.import_dirs,
    logger,
    onShutdownRequest: () => stop('POST /v1/shutdown'),
  })
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  // SIGHUP re-reads hives.conf and the key files and keeps serving (reloads never overlap).
  // Each reload's lines carry its number, so `rbee queen reload` can pick them out of the log.
  let reloads = 0
  const reload = serialized(async () => {
    const log = logger.child({ reload: ++reloads })
    queen.reload(await readQueenReload(config, { configuredHives: queen.configuredHives }, log), log)
    log.info(RELOAD_DONE)
  })
  const starting = queen.start()
  // A SIGHUP while starting is applied once the configured hives are connected.
  process.on('SIGHUP', () => void starting.then(reload, () => {}))
  const { url, port } = await starting
  process.stdout.write(
    `${JSON.stringify({ type: 'listening', port, url, pid: process.pid, local_hive: queen.localHiveId })}\n`,
  )
} catch (err) {
  if (err instanceof ConfigError || (err instanceof RbeeError && err.code === 'RBEE_CONFIG'))
    fail(err.message, 2)
  fail(errorMessage(err), 1)
}
