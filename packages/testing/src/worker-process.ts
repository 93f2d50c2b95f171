import { WorkerStdoutMessageSchema } from '@rbee/contracts'
import { daemonCommand } from './daemon-bin.js'
import { ManagedProcess } from './managed-process.js'
import { tinyModelPath } from './models.js'

export interface StartWorkerOptions {
  /** Model file. @default the tiny built-in model */
  model?: string
  /** Extra flags, e.g. `['--slots', '2']`. */
  args?: string[]
  env?: NodeJS.ProcessEnv
  /** @default 60_000 */
  readyTimeoutMs?: number
}

export interface StartedWorker {
  process: ManagedProcess
  port: number
  url: string
  pid: number
  close: () => Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** Starts a real `llm-worker-rbee` on port 0 and waits for its ready message. */
export async function startWorker(options: StartWorkerOptions = {}): Promise<StartedWorker> {
  const model = options.model ?? (await tinyModelPath())
  const proc = new ManagedProcess({
    ...daemonCommand('llm-worker-rbee', [
      '--model',
      model,
      '--port',
      '0',
      '--slots',
      '2',
      '--ctx-size',
      '512',
      ...(options.args ?? []),
    ]),
    env: {
      ...process.env,
      RBEE_LOG_LEVEL: process.env.RBEE_LOG_LEVEL ?? 'warn',
      UV_THREADPOOL_SIZE: '1',
      ...options.env,
    },
  })
  try {
    const ready = WorkerStdoutMessageSchema.parse(
      await proc.waitForJson((m) => m.type === 'ready', options.readyTimeoutMs ?? 60_000),
    )
    if (ready.type !== 'ready') throw new Error('unexpected message')
    return {
      process: proc,
      port: ready.port,
      url: `http://127.0.0.1:${ready.port}`,
      pid: proc.pid,
      close: () => proc.close(),
    }
  } catch (err) {
    await proc.close(1000)
    throw err
  }
}
