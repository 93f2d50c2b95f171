import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import type { RotatingLog } from '@rbee/common'
import { deferred, errorMessage, type Logger, parseJsonAs, RbeeError } from '@rbee/common'
import {
  type HiveStreamEvent,
  type HiveWorker,
  hostPortUrl,
  RBEE_PROTOCOL,
  type WorkerExit,
  type WorkerInfo,
  type WorkerStatus,
  type WorkerStdoutMessage,
  WorkerStdoutMessageSchema,
} from '@rbee/contracts'
import type { MonitoredWorker } from '../monitor/host-monitor.js'
import { HealthProbe, type WorkerProbeSettings } from './health-probe.js'
import { decideRestart, describeExit, type ExitStatus, type RestartPolicy } from './restart-policy.js'
import { deviceArg, type WorkerCommand, type WorkerLaunch, workerArgs, workerEnv } from './worker-command.js'

export interface SupervisedWorkerOptions {
  launch: WorkerLaunch
  command: WorkerCommand
  /** Environment the worker's own is derived from. */
  baseEnv: NodeJS.ProcessEnv
  log: RotatingLog
  logger: Logger
  policy: RestartPolicy
  /** SIGTERM, then SIGKILL after this long. */
  stopGraceMs: number
  /** A launch that is not ready by then is killed. */
  readyTimeoutMs: number
  /** How a ready worker is checked for answering (see `HealthProbe`). */
  probe: WorkerProbeSettings
  version: string
  /** Told at once about every spawn, ready and exit. */
  emit: (event: HiveStreamEvent) => void
}

interface Incarnation {
  child: ChildProcess
  pid: number | null
  fatal: string | undefined
  readyTimer: NodeJS.Timeout | undefined
  killTimer: NodeJS.Timeout | undefined
  /** Checks the ready process answers; from ready to exit. */
  probe: HealthProbe | undefined
  /** Since when it has not answered (ms, `performance.now()`), while `unresponsive`. */
  unresponsiveSince: number | undefined
  /** Kills it if it stays unresponsive. */
  unresponsiveTimer: NodeJS.Timeout | undefined
  exited: Promise<ExitStatus>
  settle: (exit: ExitStatus) => void
  done: boolean
}

const MAX_LOG_LINE = 400

/**
 * One worker the hive runs, across restarts: it launches `llm-worker-rbee`, reads its JSON lines
 * (loading, ready, fatal), writes everything it prints to its log file, reports spawn/ready/exit
 * at once, and restarts it after an unexpected exit as its restart policy says. The worker keeps
 * its id across restarts; each launch gets a new pid and port.
 */
export class SupervisedWorker {
  readonly id: string
  readonly #o: SupervisedWorkerOptions
  readonly #log: Logger
  readonly #startedAt = new Date()
  #status: WorkerStatus = 'starting'
  #current: Incarnation | undefined
  #port = 0
  /** Busy slots, as the running process last said (its `slots` lines). */
  #slotsBusy = 0
  #host: string
  #restartTimes: number[] = []
  #restartTimer: NodeJS.Timeout | undefined
  #givenUp: string | null = null
  #lastExit: WorkerExit | null = null
  /** Pending first start: resolved on ready, rejected when that launch fails. */
  #firstStart: ReturnType<typeof deferred<void>> | undefined
  #onLoading: ((progress: number) => void) | undefined
  #stopped = deferred<void>()

  constructor(options: SupervisedWorkerOptions) {
    this.id = options.launch.workerId
    this.#o = options
    this.#host = options.launch.advertiseHost
    this.#log = options.logger.child({ worker_id: this.id })
  }

  get status(): WorkerStatus {
    return this.#status
  }
  get modelId(): string {
    return this.#o.launch.modelId
  }
  get pid(): number | null {
    return this.#current?.pid ?? null
  }
  get port(): number {
    return this.#port
  }
  get logPath(): string {
    return this.#o.log.path
  }
  /** Why the hive stopped restarting it, if it did. */
  get givenUp(): string | null {
    return this.#givenUp
  }
  get lastExit(): WorkerExit | null {
    return this.#lastExit
  }
  /** True until it has stopped for good (stopped, given up, or failed to start). */
  get alive(): boolean {
    return this.#status !== 'stopped'
  }

  #setStatus(next: WorkerStatus): void {
    if (next === this.#status) return
    // ready <-> busy follows the worker's slots, many times a second under load.
    const level = this.#status === 'busy' || next === 'busy' ? 'debug' : 'info'
    this.#log[level]({ from: this.#status, to: next }, 'worker status')
    this.#status = next
    if (next === 'stopped') this.#stopped.resolve()
  }

  info(): WorkerInfo {
    const l = this.#o.launch
    return {
      id: this.id,
      model_id: l.modelId,
      device: `${l.backend}:${deviceArg(l.device)}`,
      port: this.#port,
      status: this.#status,
      implementation: 'llm-worker-rbee',
      version: this.#o.version,
      // The worker is of this hive's build, so of its protocol.
      protocol: RBEE_PROTOCOL,
      host: this.#host,
      hive_id: l.hiveId,
      slots_total: l.slots,
      slots_busy: this.#slotsBusy,
    }
  }

  view(): HiveWorker {
    return {
      worker: this.info(),
      pid: this.pid,
      url: this.#port > 0 ? hostPortUrl(this.#host, this.#port) : null,
      started_at: this.#startedAt.toISOString(),
      restarts: this.#restartTimes.length,
      restart_policy: this.#o.policy.policy,
      given_up: this.#givenUp,
      last_exit: this.#lastExit,
      log_path: this.#o.log.path,
    }
  }

  /** What the monitor samples, while a process runs. */
  monitored(): MonitoredWorker | undefined {
    const pid = this.pid
    if (pid === null) return undefined
    return { pid, port: this.#port, workerId: this.id, modelId: this.modelId, status: this.#status }
  }

  /** The last lines the worker printed, for error messages. */
  logTail(n = 12): string[] {
    return this.#o.log.tail(n).map((l) => (l.length > MAX_LOG_LINE ? `${l.slice(0, MAX_LOG_LINE)}…` : l))
  }

  /**
   * Launches the worker and resolves once it is ready. On failure (a fatal message, an exit, the
   * ready timeout, or `signal` aborting) the process is gone before this rejects, the worker is
   * `stopped`, and the error quotes its last log lines.
   */
  async start(signal?: AbortSignal, onLoading?: (progress: number) => void): Promise<void> {
    this.#firstStart = deferred<void>()
    this.#onLoading = onLoading
    const onAbort = (): void => {
      this.#firstStart?.reject(signal?.reason ?? new RbeeError('RBEE_CANCELLED', 'cancelled'))
      void this.stop()
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      if (signal?.aborted) throw signal.reason
      this.#launch()
      await this.#firstStart.promise
    } catch (err) {
      await this.stop()
      throw err
    } finally {
      signal?.removeEventListener('abort', onAbort)
      this.#firstStart = undefined
      this.#onLoading = undefined
    }
  }

  #launch(): void {
    const l = this.#o.launch
    this.#port = 0
    this.#host = l.advertiseHost
    this.#setStatus('starting')
    const args = [...this.#o.command.prefixArgs, ...workerArgs(l)]
    this.#o.log.write(`--- rbee-hive: starting ${this.#o.command.command} ${args.join(' ')}`)
    const child = spawn(this.#o.command.command, args, {
      env: workerEnv(this.#o.baseEnv, l),
      // stdin stays an open pipe: with RBEE_EXIT_WITH_STDIN=1 the worker exits when it closes,
      // which happens when this hive dies, even by SIGKILL.
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    const settled = deferred<ExitStatus>()
    const inc: Incarnation = {
      child,
      pid: child.pid ?? null,
      fatal: undefined,
      readyTimer: undefined,
      killTimer: undefined,
      probe: undefined,
      unresponsiveSince: undefined,
      unresponsiveTimer: undefined,
      exited: settled.promise,
      settle: settled.resolve,
      done: false,
    }
    this.#current = inc
    child.stdin?.on('error', () => {})
    createInterface({ input: child.stdout! }).on('line', (line) => this.#onStdout(inc, line))
    createInterface({ input: child.stderr! }).on('line', (line) => this.#o.log.write(line))
    child.on('error', (err) => {
      inc.fatal ??= `cannot run ${this.#o.command.command}: ${errorMessage(err)}`
      this.#o.log.write(`--- rbee-hive: ${inc.fatal}`)
      // A spawn failure emits no 'exit'; treat it as one.
      if (inc.pid === null) this.#onExit(inc, { code: null, signal: null })
    })
    child.on('exit', (code, sig) => this.#onExit(inc, { code, signal: sig }))
    if (inc.pid === null) return
    inc.readyTimer = setTimeout(() => {
      inc.fatal ??= `not ready within ${this.#o.readyTimeoutMs} ms`
      this.#o.log.write(`--- rbee-hive: ${inc.fatal}; killing it`)
      child.kill('SIGKILL')
    }, this.#o.readyTimeoutMs)
    inc.readyTimer.unref()
    this.#log.info({ pid: inc.pid, model: l.modelId, backend: l.backend }, 'worker launched')
    this.#o.emit({
      type: 'worker_spawned',
      hive_id: l.hiveId,
      timestamp: new Date().toISOString(),
      worker: this.info(),
      pid: inc.pid,
    })
  }

  #onStdout(inc: Incarnation, line: string): void {
    const msg = parseStdoutLine(line)
    // Slot reports come many times a second under load: state, not log.
    if (msg?.type !== 'slots') this.#o.log.write(line)
    if (!msg || inc !== this.#current) return
    if (msg.type === 'slots') {
      this.#slotsBusy = msg.slots_busy
      const ready = this.#status === 'ready' || this.#status === 'busy'
      if (ready && (msg.status === 'ready' || msg.status === 'busy')) this.#setStatus(msg.status)
    } else if (msg.type === 'loading') this.#onLoading?.(msg.progress)
    else if (msg.type === 'fatal') inc.fatal = `${msg.code}: ${msg.message}`
    else if (msg.type === 'ready' && this.#status === 'starting') {
      clearTimeout(inc.readyTimer)
      this.#port = msg.port
      this.#host = msg.host
      this.#setStatus('ready')
      this.#log.info({ pid: inc.pid, port: msg.port }, 'worker ready')
      this.#startProbe(inc)
      this.#o.emit({
        type: 'worker_ready',
        hive_id: this.#o.launch.hiveId,
        timestamp: new Date().toISOString(),
        worker: this.info(),
        pid: inc.pid ?? msg.pid,
      })
      this.#firstStart?.resolve()
    }
  }

  /** Probes the ready process until it exits: unanswered → `unresponsive`, and killed if it stays so. */
  #startProbe(inc: Incarnation): void {
    const { probe } = this.#o
    if (probe.intervalMs <= 0) return
    inc.probe = new HealthProbe({
      ...probe,
      url: hostPortUrl(this.#host, this.#port),
      onMiss: (why) => this.#onProbeMiss(inc, why),
      onAnswer: () => this.#onProbeAnswer(inc),
    })
    inc.probe.start()
  }

  #onProbeMiss(inc: Incarnation, why: string): void {
    if (inc !== this.#current || (this.#status !== 'ready' && this.#status !== 'busy')) return
    inc.unresponsiveSince = performance.now()
    const limit = this.#o.probe.restartAfterMs
    this.#log.warn({ pid: inc.pid, why, restartAfterMs: limit }, 'worker unresponsive; out of routing')
    this.#setStatus('unresponsive')
    this.#emitStatus(`unresponsive: ${why}`)
    inc.unresponsiveTimer = setTimeout(() => {
      inc.fatal ??= `unresponsive for ${limit} ms (${why})`
      this.#o.log.write(`--- rbee-hive: worker ${inc.fatal}; killing it`)
      this.#log.warn({ pid: inc.pid, limitMs: limit }, 'worker still unresponsive; killing it')
      inc.child.kill('SIGKILL')
    }, limit)
    inc.unresponsiveTimer.unref()
  }

  #onProbeAnswer(inc: Incarnation): void {
    if (inc !== this.#current || this.#status !== 'unresponsive') return
    clearTimeout(inc.unresponsiveTimer)
    inc.unresponsiveTimer = undefined
    const ms = Math.round(performance.now() - (inc.unresponsiveSince ?? performance.now()))
    inc.unresponsiveSince = undefined
    this.#log.info({ pid: inc.pid, unresponsiveMs: ms }, 'worker answers again')
    this.#setStatus(this.#slotsBusy >= this.#o.launch.slots ? 'busy' : 'ready')
    this.#emitStatus(`answers again after ${ms} ms`)
  }

  #emitStatus(reason: string): void {
    this.#o.emit({
      type: 'worker_status',
      hive_id: this.#o.launch.hiveId,
      timestamp: new Date().toISOString(),
      worker: this.info(),
      reason,
    })
  }

  #onExit(inc: Incarnation, exit: ExitStatus): void {
    if (inc.done) return
    inc.done = true
    clearTimeout(inc.readyTimer)
    clearTimeout(inc.killTimer)
    clearTimeout(inc.unresponsiveTimer)
    inc.probe?.close()
    inc.child.stdin?.destroy()
    inc.settle(exit)
    if (inc !== this.#current) return
    const pid = inc.pid
    const port = this.#port
    this.#current = undefined
    this.#port = 0
    this.#slotsBusy = 0
    const how = describeExit(exit)
    const reason = inc.fatal ? `${how}: ${inc.fatal}` : how
    const at = new Date().toISOString()
    this.#o.log.write(`--- rbee-hive: worker exited (${reason})`)
    const report = (expected: boolean, restarting: boolean, why: string): void => {
      this.#lastExit = { exit_code: exit.code, signal: exit.signal, at, reason: why }
      this.#o.emit({
        type: 'worker_exited',
        hive_id: this.#o.launch.hiveId,
        timestamp: at,
        worker_id: this.id,
        pid,
        port,
        exit_code: exit.code,
        signal: exit.signal,
        expected,
        restarting,
        reason: why,
      })
    }

    if (this.#status === 'stopping') {
      this.#setStatus('stopped')
      report(true, false, `stopped by the hive (${how})`)
      return
    }
    if (this.#firstStart) {
      // The first launch failed: the spawn operation reports it; no restart.
      this.#setStatus('stopped')
      report(false, false, reason)
      const tail = this.logTail()
      this.#firstStart.reject(
        new RbeeError(
          'RBEE_SPAWN_FAILED',
          `worker ${this.id} failed to start (${reason}); last log lines:\n${tail.join('\n')}`,
          { details: { worker_id: this.id, exit_code: exit.code, signal: exit.signal, log_tail: tail } },
        ),
      )
      return
    }
    const decision = decideRestart(this.#o.policy, exit, this.#restartTimes, Date.now(), reason)
    if (decision.restart) {
      this.#log.warn({ pid, reason, delayMs: decision.delayMs }, 'worker exited unexpectedly; restarting')
      this.#setStatus('starting')
      report(false, true, `${reason}; restarting in ${decision.delayMs} ms`)
      this.#restartTimer = setTimeout(() => {
        this.#restartTimer = undefined
        this.#restartTimes.push(Date.now())
        this.#launch()
      }, decision.delayMs)
      return
    }
    const why = decision.reason
    this.#givenUp = decision.givenUp ? why : null
    this.#log.warn({ pid, reason: why }, 'worker exited unexpectedly; not restarting')
    this.#setStatus('stopped')
    report(false, false, why)
  }

  /**
   * Stops the worker for good: SIGTERM, then SIGKILL after the grace period; a pending restart is
   * cancelled. Resolves with how the process ended (null when none was running). Idempotent.
   */
  async stop(): Promise<ExitStatus | null> {
    if (this.#restartTimer) {
      clearTimeout(this.#restartTimer)
      this.#restartTimer = undefined
    }
    const inc = this.#current
    if (!inc) {
      if (this.#status !== 'stopped') {
        this.#setStatus('stopped')
        this.#lastExit = {
          exit_code: null,
          signal: null,
          at: new Date().toISOString(),
          reason: 'stopped by the hive while waiting to restart',
        }
      }
      return null
    }
    if (this.#status !== 'stopping') {
      // A process that does not answer would not handle SIGTERM either (a stopped one only
      // queues it): it is killed at once.
      const hung = this.#status === 'unresponsive'
      this.#setStatus('stopping')
      inc.probe?.close()
      inc.child.kill(hung ? 'SIGKILL' : 'SIGTERM')
      inc.killTimer = setTimeout(() => {
        this.#log.warn(
          { pid: inc.pid, graceMs: this.#o.stopGraceMs },
          'worker ignored SIGTERM; sending SIGKILL',
        )
        inc.child.kill('SIGKILL')
      }, this.#o.stopGraceMs)
      inc.killTimer.unref()
    }
    return inc.exited
  }

  /** Resolves once the worker has stopped for good. */
  get stopped(): Promise<void> {
    return this.#stopped.promise
  }

  /** Sends a signal to the running process (tests and `kill` semantics). False when none runs. */
  signal(sig: NodeJS.Signals): boolean {
    return this.#current?.child.kill(sig) ?? false
  }
}

/** A line a worker printed, if it is one of its messages for the hive. */
function parseStdoutLine(line: string): WorkerStdoutMessage | undefined {
  if (!line.startsWith('{')) return undefined
  return parseJsonAs(WorkerStdoutMessageSchema, line)
}
