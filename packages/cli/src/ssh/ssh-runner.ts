import { spawn } from 'node:child_process'
import { createReadStream } from 'node:fs'
import { RbeeError } from '@rbee/common/base'
import { shQuote } from './sh-quote.js'
import { describeTarget, type SshTarget } from './ssh-target.js'

/** What a remote command did. */
export interface SshResult {
  code: number
  stdout: string
  stderr: string
}

/** How one remote command is run. */
export interface SshRunOptions {
  /** Written to the remote command's stdin (a script for `sh -s`). */
  input?: string
  /** A local file streamed to the remote command's stdin instead. */
  inputFile?: string
  /** The command is killed (SIGTERM) after this long. @default 60_000 */
  timeoutMs?: number
  signal?: AbortSignal
  /** Sees stdout as it arrives (for `logs -f`). */
  onStdout?: (chunk: string) => void
}

function runProcess(command: readonly string[], args: string[], options: SshRunOptions): Promise<SshResult> {
  return new Promise((resolve, reject) => {
    const [file, ...pre] = command
    const child = spawn(file!, [...pre, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    let settled = false
    const timer = setTimeout(() => child.kill('SIGTERM'), options.timeoutMs ?? 60_000)
    const onAbort = (): void => void child.kill('SIGTERM')
    options.signal?.addEventListener('abort', onAbort, { once: true })
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c
      options.onStdout?.(c)
    })
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c
    })
    child.stdin.on('error', () => {})
    if (options.inputFile) {
      createReadStream(options.inputFile)
        .on('error', (err) => done(() => reject(err)))
        .pipe(child.stdin)
    } else child.stdin.end(options.input ?? '')
    const done = (fn: () => void): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
      fn()
    }
    child.once('error', (err) => done(() => reject(err)))
    child.once('close', (code, sig) =>
      done(() => resolve({ code: code ?? (sig ? 128 + 15 : 1), stdout, stderr })),
    )
  })
}

/**
 * Turns ssh's own failures (exit code 255) into an error that says what to do: unreachable
 * host, refused key, unknown host key. Undefined when the failure was the remote command's.
 */
export function sshFailure(target: SshTarget, result: SshResult): RbeeError | undefined {
  if (result.code !== 255) return undefined
  const err = result.stderr
  const who = describeTarget(target)
  const alias = target.alias
  if (/Permission denied \((publickey|.*publickey)/.test(err) || /Permission denied/.test(err)) {
    return new RbeeError(
      'RBEE_UNAUTHORIZED',
      `${who} refused the SSH key (Permission denied (publickey)): add your public key to ~${target.user}/.ssh/authorized_keys there (ssh-copy-id ${who}), or set IdentityFile for ${alias} in ~/.ssh/config`,
    )
  }
  if (/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/.test(err)) {
    return new RbeeError(
      'RBEE_FORBIDDEN',
      `the SSH host key of ${target.hostname} is unknown or has changed: check it, then connect once with \`ssh ${alias}\` to accept it`,
    )
  }
  if (/Could not resolve hostname/.test(err)) {
    return new RbeeError(
      'RBEE_UNREACHABLE',
      `cannot resolve ${target.hostname} (host ${alias}): check HostName in hives.conf or ~/.ssh/config`,
    )
  }
  if (/Connection refused/.test(err)) {
    return new RbeeError(
      'RBEE_UNREACHABLE',
      `${target.hostname}:${target.port} refused the SSH connection: is sshd running there, and is Port right for ${alias}?`,
    )
  }
  if (/timed out|No route to host|Network is unreachable|Connection closed|Connection reset/.test(err)) {
    return new RbeeError(
      'RBEE_UNREACHABLE',
      `cannot reach ${target.hostname}:${target.port} over SSH (${firstLine(err)}): is the machine on, and is HostName right for ${alias}?`,
    )
  }
  return new RbeeError('RBEE_UNREACHABLE', `ssh to ${who} failed: ${firstLine(err) || 'exit code 255'}`)
}

function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l !== '' && !l.startsWith('Warning: Permanently added')) ?? ''
  )
}

/** How an `SshRunner` runs ssh. */
export interface SshRunnerOptions {
  /**
   * The ssh command and any words before its arguments (tests give a stand-in that runs the
   * command locally, the way sshd would). @default ['ssh']
   */
  command?: readonly string[]
}

/** Runs the system `ssh` against one target. */
export class SshRunner {
  readonly #command: readonly string[]

  constructor(
    readonly target: SshTarget,
    options: SshRunnerOptions = {},
  ) {
    this.#command = options.command ?? ['ssh']
  }

  /**
   * Runs a shell script on the remote machine (`sh -s`, the script on stdin, so no quoting
   * reaches the remote shell).
   * @throws RbeeError from `sshFailure` when ssh itself failed.
   */
  async script(script: string, options: Omit<SshRunOptions, 'input'> = {}): Promise<SshResult> {
    return this.exec(['/bin/sh', '-s'], { ...options, input: script })
  }

  /** Runs a remote command line (words joined by ssh with spaces; quote them yourself). */
  async exec(command: string[], options: SshRunOptions = {}): Promise<SshResult> {
    const args = [...this.target.options, '-o', 'BatchMode=yes', '--', this.target.destination, ...command]
    let result: SshResult
    try {
      result = await runProcess(this.#command, args, options)
    } catch (err) {
      throw new RbeeError('RBEE_CONFIG', `cannot run ssh: ${(err as Error).message}`, { cause: err })
    }
    const failure = sshFailure(this.target, result)
    if (failure) throw failure
    return result
  }

  /**
   * Copies a local file to a path on the remote machine by streaming it through ssh into
   * `cat` (no sftp subsystem or remote scp needed). The file appears complete or not at all.
   */
  async copy(
    localPath: string,
    remotePath: string,
    options: Omit<SshRunOptions, 'input' | 'inputFile'> = {},
  ): Promise<void> {
    const tmp = `${remotePath}.part`
    const result = await this.exec(
      [
        '/bin/sh',
        '-c',
        // ssh joins its arguments with spaces into one command line for the remote shell: the
        // script is one quoted word there, and the paths are quoted words inside it.
        shQuote(`cat > ${shQuote(tmp)} && mv -- ${shQuote(tmp)} ${shQuote(remotePath)}`),
      ],
      {
        timeoutMs: 600_000,
        ...options,
        inputFile: localPath,
      },
    )
    if (result.code !== 0) {
      throw new RbeeError(
        'RBEE_UPSTREAM',
        `copying to ${this.target.alias}:${remotePath} failed: ${result.stderr.trim() || `exit code ${result.code}`}`,
      )
    }
  }
}
