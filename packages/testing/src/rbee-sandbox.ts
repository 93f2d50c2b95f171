import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { daemonCommand } from './daemon-bin.js'
import { BACKEND_PROBE_FIXTURE } from './probe-fixtures.js'
import { waitFor } from './wait-for.js'

/** A free TCP port on `host` (bound, then released). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const s = createServer()
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject)
    s.listen(0, host, resolve)
  })
  const { port } = s.address() as { port: number }
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

/** What one `rbee` run did. */
export interface RbeeRun {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** A running `rbee` process. */
export interface RbeeProcess {
  child: ChildProcess
  readonly stdout: string
  readonly stderr: string
  /** Resolves once stderr (or stdout) matches. */
  waitFor(stream: 'stdout' | 'stderr', re: RegExp, timeoutMs?: number): Promise<void>
  done: Promise<RbeeRun>
}

/**
 * An isolated rbee world for a test: its own data dir, config dir and queen port, so nothing
 * touches the user's ~/.local/share/rbee or a queen on the default port. `close()` stops every
 * process that runs out of its data dir (queens started by `rbee infer` included).
 */
export class RbeeSandbox {
  readonly root: string
  readonly home: string
  readonly configDir: string
  readonly queenUrl: string
  readonly env: NodeJS.ProcessEnv
  readonly #running = new Set<ChildProcess>()

  private constructor(root: string, queenUrl: string, extraEnv: NodeJS.ProcessEnv) {
    this.root = root
    this.home = join(root, 'data')
    this.configDir = join(root, 'config')
    this.queenUrl = queenUrl
    const env: NodeJS.ProcessEnv = {}
    for (const [k, v] of Object.entries(process.env)) {
      if (!k.startsWith('RBEE_') && !k.startsWith('HF_')) env[k] = v
    }
    this.env = {
      ...env,
      RBEE_HOME: this.home,
      RBEE_CONFIG_DIR: this.configDir,
      RBEE_QUEEN_URL: queenUrl,
      RBEE_LOG_LEVEL: process.env.RBEE_LOG_LEVEL ?? 'info',
      // No test may reach the real hub by accident.
      HF_ENDPOINT: 'http://127.0.0.1:9',
      // Hives (the queen's local one) and `rbee doctor` read the backend probe's test double,
      // a machine without a GPU unless RBEE_FIXTURE_PROBE names another result.
      RBEE_BACKEND_PROBE: BACKEND_PROBE_FIXTURE,
      NO_COLOR: '1',
      ...extraEnv,
    }
  }

  /** A sandbox whose queen will listen on `host` at a free port. */
  static async create(options: { host?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RbeeSandbox> {
    const host = options.host ?? '127.0.0.1'
    const root = await mkdtemp(join(tmpdir(), 'rbee-cli-test-'))
    return new RbeeSandbox(root, `http://${host}:${await freePort(host)}`, options.env ?? {})
  }

  /** Starts `rbee ARGS…` with the sandbox's environment (plus `env`). */
  spawn(args: string[], env: NodeJS.ProcessEnv = {}): RbeeProcess {
    const rbee = daemonCommand('rbee', args)
    const child = spawn(rbee.command, rbee.args, {
      env: { ...this.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    child.stdin!.end()
    this.#running.add(child)
    let stdout = ''
    let stderr = ''
    const waiters: Array<() => void> = []
    const wake = (): void => {
      for (const w of [...waiters]) w()
    }
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      stdout += c
      wake()
    })
    child.stderr!.setEncoding('utf8').on('data', (c: string) => {
      stderr += c
      wake()
    })
    const done = new Promise<RbeeRun>((resolve) => {
      child.once('close', (code, signal) => {
        this.#running.delete(child)
        wake()
        resolve({ code, signal, stdout, stderr })
      })
    })
    return {
      child,
      get stdout() {
        return stdout
      },
      get stderr() {
        return stderr
      },
      done,
      waitFor(stream, re, timeoutMs = 60_000) {
        return new Promise<void>((resolve, reject) => {
          const check = (): void => {
            const text = stream === 'stdout' ? stdout : stderr
            if (re.test(text)) finish(resolve)
            else if (child.exitCode !== null || child.signalCode !== null) {
              finish(() =>
                reject(
                  new Error(
                    `rbee exited before ${stream} matched ${re}\nstdout: ${stdout}\nstderr: ${stderr}`,
                  ),
                ),
              )
            }
          }
          const timer = setTimeout(
            () =>
              finish(() => reject(new Error(`timed out waiting for ${re} on ${stream}\nstderr: ${stderr}`))),
            timeoutMs,
          )
          const finish = (fn: () => void): void => {
            clearTimeout(timer)
            waiters.splice(waiters.indexOf(check), 1)
            fn()
          }
          waiters.push(check)
          check()
        })
      },
    }
  }

  /** Runs `rbee ARGS…` to its end. */
  async run(args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RbeeRun> {
    const p = this.spawn(args, options.env)
    const timer = setTimeout(() => p.child.kill('SIGKILL'), options.timeoutMs ?? 120_000)
    try {
      return await p.done
    } finally {
      clearTimeout(timer)
    }
  }

  /** Waits until `rbee hive list` shows `hiveId` online. */
  async waitHiveOnline(hiveId: string, timeoutMs = 20_000): Promise<void> {
    await waitFor(
      `rbee hive list to show ${hiveId} online`,
      async () => {
        const list = await this.run(['hive', 'list', '--json'])
        return (JSON.parse(list.stdout) as Array<{ id: string; state: string }>).some(
          (h) => h.id === hiveId && h.state === 'online',
        )
      },
      timeoutMs,
      250,
    )
  }

  /** The pid in the sandbox's queen pid file, if any. */
  async queenPid(): Promise<number | undefined> {
    const text = await readFile(join(this.home, 'queen.pid'), 'utf8').catch(() => '')
    const n = Number(text.trim())
    return Number.isInteger(n) && n > 0 ? n : undefined
  }

  /** Pids of live processes whose command line mentions the sandbox (queen, hive, workers). */
  async processes(): Promise<number[]> {
    const pids: number[] = []
    for (const name of await readdir('/proc')) {
      if (!/^\d+$/.test(name) || Number(name) === process.pid) continue
      const cmd = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '')
      if (!cmd.includes(this.root)) continue
      const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '')
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
      if (state !== '' && state !== 'Z' && state !== 'X') pids.push(Number(name))
    }
    return pids
  }

  /** Kills everything the sandbox started and removes its files. Idempotent. */
  async close(): Promise<void> {
    for (const child of this.#running) child.kill('SIGKILL')
    const signal = (pids: number[], sig: NodeJS.Signals): void => {
      for (const pid of pids) {
        try {
          process.kill(pid, sig)
        } catch {
          // already gone
        }
      }
    }
    const queen = await this.queenPid()
    signal([...(queen ? [queen] : []), ...(await this.processes())], 'SIGTERM')
    // Whatever is still there after the grace gets SIGKILL below.
    await waitFor(
      'the sandbox processes to exit',
      async () => (await this.processes()).length === 0,
      10_000,
      100,
    ).catch(() => {})
    signal(await this.processes(), 'SIGKILL')
    await rm(this.root, { recursive: true, force: true })
  }
}
