import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'

export interface ManagedProcessOptions {
  command: string
  args: string[]
  env?: NodeJS.ProcessEnv
  cwd?: string
  /** Keep stdin as a pipe (some daemons exit when it closes). @default false */
  stdinPipe?: boolean
}

/**
 * A child process started for a test: its stdout lines (JSON ones parsed), its stderr kept for
 * failure messages, and a `close()` that sends SIGTERM, then SIGKILL after a grace period.
 */
export class ManagedProcess {
  readonly child: ChildProcess
  readonly stdoutLines: string[] = []
  readonly stderrLines: string[] = []
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  readonly #lineWaiters: Array<{ test: (line: string) => boolean; resolve: (line: string) => void }> = []
  #exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined

  constructor(options: ManagedProcessOptions) {
    this.child = spawn(options.command, options.args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: [options.stdinPipe ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    })
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      this.stdoutLines.push(line)
      for (const w of [...this.#lineWaiters]) {
        if (w.test(line)) {
          this.#lineWaiters.splice(this.#lineWaiters.indexOf(w), 1)
          w.resolve(line)
        }
      }
    })
    createInterface({ input: this.child.stderr! }).on('line', (line) => {
      this.stderrLines.push(line)
      if (this.stderrLines.length > 2000) this.stderrLines.shift()
    })
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.#exitInfo = { code, signal }
        resolve(this.#exitInfo)
      })
    })
  }

  get pid(): number {
    return this.child.pid ?? 0
  }

  /** True once the process has exited. */
  get hasExited(): boolean {
    return this.#exitInfo !== undefined
  }

  /**
   * The log lines (pino's JSON on stderr, the last 2000 kept) whose message is `msg` (or matches
   * it), parsed.
   */
  logged(msg: string | RegExp): Array<Record<string, unknown>> {
    const out: Array<Record<string, unknown>> = []
    for (const line of this.stderrLines) {
      if (!line.startsWith('{')) continue
      try {
        const v = JSON.parse(line) as Record<string, unknown>
        const m = typeof v.msg === 'string' ? v.msg : undefined
        if (m !== undefined && (typeof msg === 'string' ? m === msg : msg.test(m))) out.push(v)
      } catch {
        // Not a log line.
      }
    }
    return out
  }

  /** The last stderr lines, for assertion messages. */
  stderrTail(n = 30): string {
    return this.stderrLines.slice(-n).join('\n')
  }

  /**
   * Resolves with the first stdout line (already seen or future) for which `test` holds; rejects
   * if the process exits first or `timeoutMs` passes.
   */
  waitForLine(test: (line: string) => boolean, timeoutMs = 60_000): Promise<string> {
    const seen = this.stdoutLines.find(test)
    if (seen !== undefined) return Promise.resolve(seen)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup()
        reject(new Error(`timed out after ${timeoutMs} ms waiting for a line\nstderr:\n${this.stderrTail()}`))
      }, timeoutMs)
      const waiter = {
        test,
        resolve: (line: string) => {
          cleanup()
          resolve(line)
        },
      }
      const onExit = (code: number | null, signal: string | null): void => {
        cleanup()
        reject(
          new Error(
            `process exited (code ${code}, signal ${signal}) before the expected line\nstderr:\n${this.stderrTail()}`,
          ),
        )
      }
      const cleanup = (): void => {
        clearTimeout(timer)
        this.child.off('exit', onExit)
        const i = this.#lineWaiters.indexOf(waiter)
        if (i >= 0) this.#lineWaiters.splice(i, 1)
      }
      this.#lineWaiters.push(waiter)
      this.child.on('exit', onExit)
    })
  }

  /** Resolves with the first stdout JSON object matching `test`. */
  async waitForJson<T = Record<string, unknown>>(
    test: (msg: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<T> {
    const parse = (line: string): Record<string, unknown> | undefined => {
      try {
        const v: unknown = JSON.parse(line)
        return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined
      } catch {
        return undefined
      }
    }
    const line = await this.waitForLine((l) => {
      const m = parse(l)
      return m !== undefined && test(m)
    }, timeoutMs)
    return parse(line) as T
  }

  /** Sends a signal if still running. */
  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (!this.hasExited) this.child.kill(signal)
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once exited. Idempotent. */
  async close(graceMs = 5000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.hasExited) return this.exited
    this.child.kill('SIGTERM')
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs)
    try {
      return await this.exited
    } finally {
      clearTimeout(timer)
    }
  }
}
