import { spawn } from 'node:child_process'
import { Deadline } from '@rbee/common/base'
import {
  type Backend,
  type BackendCheck,
  type BackendProbe,
  BackendProbeLineSchema,
  BackendProbeSchema,
} from '@rbee/contracts'
import { HIVE_DEFAULTS } from '../hive-defaults.js'

/** The builds probed, in the order the probe tries them (the CPU first). */
export const PROBED_BACKENDS: readonly Backend[] = ['cpu', 'cuda', 'vulkan', 'metal']

const NAMES: Record<Backend, string> = { cpu: 'CPU', cuda: 'CUDA', vulkan: 'Vulkan', metal: 'Metal' }

export interface BackendProbeOptions {
  /** The program to run and the arguments before `--probe-backends` (see `resolveWorkerCommand`). */
  command: { command: string; prefixArgs: readonly string[] }
  /** Its environment (the hive gives it what a worker would get). */
  env: NodeJS.ProcessEnv
  /** All runs together, retries included. @default 60_000 */
  timeoutMs?: number
  /** Stdout one run may print before it is stopped. @default 256 KiB */
  maxOutputBytes?: number
  signal?: AbortSignal | undefined
}

/** How one run of the probe ended. */
interface ProbeRun {
  checks: BackendCheck[]
  summary: BackendProbe | undefined
  /** Why it ended without a summary (`crashed (signal SIGSEGV)`), undefined when it did not. */
  failure: string | undefined
}

/** The last line of `text`, shortened, for a reason. */
function tail(text: string): string {
  const last = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .at(-1)
  return last ? `: ${last.slice(0, 300)}` : ''
}

/**
 * Runs the probe once for `backends`, in its own process group (node-llama-cpp test-loads each
 * build in a child of its own: a stop takes those along), reading at most `maxBytes` of stdout.
 */
function runOnce(
  o: BackendProbeOptions,
  backends: readonly Backend[],
  signal: AbortSignal,
  maxBytes: number,
): Promise<ProbeRun> {
  return new Promise((resolve) => {
    const checks: BackendCheck[] = []
    let summary: BackendProbe | undefined
    let stderr = ''
    let pending = ''
    let bytes = 0
    let stopped: string | undefined
    const child = spawn(
      o.command.command,
      [...o.command.prefixArgs, '--probe-backends', backends.join(',')],
      {
        env: o.env,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: process.platform !== 'win32',
      },
    )
    const stop = (why: string): void => {
      stopped ??= why
      try {
        if (child.pid !== undefined && process.platform !== 'win32') process.kill(-child.pid, 'SIGKILL')
        else child.kill('SIGKILL')
      } catch {
        // already gone
      }
    }
    const onAbort = (): void =>
      stop(
        signal.reason instanceof Error && signal.reason.name === 'TimeoutError'
          ? 'did not finish in time'
          : 'was stopped',
      )
    if (signal.aborted) onAbort()
    signal.addEventListener('abort', onAbort, { once: true })
    const line = (text: string): void => {
      if (!text.startsWith('{')) return
      let value: unknown
      try {
        value = JSON.parse(text)
      } catch {
        return
      }
      const parsed = BackendProbeLineSchema.safeParse(value)
      if (!parsed.success) return
      if (parsed.data.type === 'backend_probe') summary = BackendProbeSchema.parse(parsed.data)
      else {
        const { type: _type, ...check } = parsed.data
        checks.push(check)
      }
    }
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk: string) => {
      bytes += Buffer.byteLength(chunk)
      if (bytes > maxBytes) return stop(`printed more than ${maxBytes} bytes`)
      pending += chunk
      let nl = pending.indexOf('\n')
      while (nl >= 0) {
        line(pending.slice(0, nl).trim())
        pending = pending.slice(nl + 1)
        nl = pending.indexOf('\n')
      }
    })
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-4096)
    })
    let done = false
    const finish = (failure: string | undefined): void => {
      if (done) return
      done = true
      signal.removeEventListener('abort', onAbort)
      if (pending.trim()) line(pending.trim())
      resolve({ checks, summary, failure: summary ? undefined : failure })
    }
    child.on('error', (err) => finish(`could not be started (${err.message})`))
    child.on('close', (code, sig) =>
      finish(
        stopped ??
          (sig
            ? `crashed (signal ${sig})${tail(stderr)}`
            : `exited with code ${code} without a result${tail(stderr)}`),
      ),
    )
  })
}

/**
 * Finds out which llama.cpp builds load here by running the probe (`llm-worker-rbee
 * --probe-backends`) in a child process, so a build that crashes cannot take the hive down. A run
 * that dies is blamed on the first build it had not reported yet: that build is marked unusable
 * with how the probe ended, and the builds after it are probed again without it. Never throws:
 * builds the probe could not check in time are unusable with the reason.
 */
export async function probeBackends(o: BackendProbeOptions): Promise<BackendProbe> {
  const t0 = performance.now()
  const timeoutMs = o.timeoutMs ?? HIVE_DEFAULTS.backendProbeTimeoutMs
  const deadline = new Deadline({
    ms: timeoutMs,
    parent: o.signal,
    message: `no result within ${timeoutMs} ms`,
  })
  const results = new Map<Backend, BackendCheck>()
  let summary: BackendProbe | undefined
  try {
    let left = [...PROBED_BACKENDS]
    while (left.length > 0) {
      const run = await runOnce(o, left, deadline.signal, o.maxOutputBytes ?? 256 * 1024)
      for (const c of [...run.checks, ...(run.summary?.backends ?? [])]) results.set(c.backend, c)
      summary ??= run.summary
      if (run.summary) break
      const culprit = left.find((b) => !results.has(b))
      if (!culprit) break
      results.set(culprit, {
        backend: culprit,
        usable: false,
        reason: `the probe of llama.cpp builds ${run.failure} while trying the ${NAMES[culprit]} build (see llm-worker-rbee --probe-backends ${culprit})`,
        devices: [],
      })
      if (deadline.signal.aborted) break
      left = left.filter((b) => !results.has(b))
    }
  } finally {
    deadline.clear()
  }
  const why = deadline.timedOut
    ? `the probe did not finish within ${timeoutMs} ms`
    : o.signal?.aborted
      ? 'the probe was stopped'
      : 'the probe did not report it'
  return {
    type: 'backend_probe',
    platform: summary?.platform ?? process.platform,
    arch: summary?.arch ?? process.arch,
    node_llama_cpp: summary?.node_llama_cpp ?? 'unknown',
    backends: PROBED_BACKENDS.map(
      (b) => results.get(b) ?? { backend: b, usable: false, reason: `not checked: ${why}`, devices: [] },
    ),
    duration_ms: Math.round(performance.now() - t0),
  }
}
