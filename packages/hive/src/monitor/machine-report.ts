import { hostname } from 'node:os'
import { silentLogger } from '@rbee/common'
import type { DoctorReport } from '@rbee/contracts'
import { HIVE_DEFAULTS } from '../hive-defaults.js'
import { probeEnv, resolveWorkerCommand } from '../workers/worker-command.js'
import { probeBackends } from './backend-probe.js'
import { HostMonitor } from './host-monitor.js'
import { findExecutable, NvidiaSmi, STANDARD_BIN_DIRS } from './nvidia-smi.js'

export interface MachineReportOptions {
  /** `nvidia-smi` to list NVIDIA GPUs with; `null` for none. @default searched on PATH, then the standard dirs */
  nvidiaSmi?: string | null | undefined
  /** What probes the llama.cpp builds (see `HiveOptions.backendProbe`). @default the worker's own `--probe-backends` */
  backendProbe?: string | undefined
  /** @default process.env */
  env?: NodeJS.ProcessEnv
  /** @default 60_000 */
  timeoutMs?: number
  signal?: AbortSignal
}

/**
 * What a hive on this machine would report about it, worked out the same way (nvidia-smi, the
 * backend probe in a child process, the same device layout), without starting one: `rbee doctor`.
 */
export async function machineReport(o: MachineReportOptions = {}): Promise<DoctorReport> {
  const env = o.env ?? process.env
  const smiPath =
    o.nvidiaSmi === null
      ? undefined
      : (o.nvidiaSmi ??
        findExecutable('nvidia-smi', env.PATH ?? '') ??
        findExecutable('nvidia-smi', STANDARD_BIN_DIRS))
  const smi = smiPath ? new NvidiaSmi({ command: smiPath, logger: silentLogger() }) : undefined
  const probe = await probeBackends({
    ...(o.backendProbe
      ? { command: resolveWorkerCommand(o.backendProbe), env }
      : { command: resolveWorkerCommand(), env: probeEnv(env) }),
    timeoutMs: o.timeoutMs ?? HIVE_DEFAULTS.backendProbeTimeoutMs,
    signal: o.signal,
  })
  const devices = await new HostMonitor({ nvidiaSmi: smi, backendProbe: () => probe }).devices()
  return {
    hostname: hostname(),
    devices,
    backend_probe: probe,
    nvidia_smi: smi ? { path: smi.command, error: smi.lastError ?? null } : null,
  }
}
