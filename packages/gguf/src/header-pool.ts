import { Worker } from 'node:worker_threads'
import { GgufFormatError } from './gguf-format-error.js'
import type { GgufLimits } from './gguf-limits.js'
import type { GgufHeader } from './gguf-reader.js'
import type { GgufScalarJson } from './metadata-scalars.js'

/** A header's figures without its metadata and tensor list: what a {@link GgufHeaderPool} hands back. */
export type GgufHeaderFacts = Omit<GgufHeader, 'metadata' | 'tensors'> & {
  tensorCount: number
  metadataCount: number
  /** The metadata's scalar values (`scalarMetadata`), when the read asked for them. */
  scalars?: Record<string, GgufScalarJson>
}

/** What a header thread is started with. */
export interface HeaderThreadInput {
  path: string
  fd: number | undefined
  limits: Partial<GgufLimits> | undefined
  scalars: boolean
}

/** What a header thread posts back. */
export type HeaderThreadResult =
  | { ok: true; facts: GgufHeaderFacts }
  | { ok: false; kind: 'gguf'; message: string }
  | { ok: false; kind: 'other'; message: string; code: string | undefined }

/** Options of a {@link GgufHeaderPool}. */
export interface GgufHeaderPoolOptions {
  /**
   * Headers read at once; more wait their turn, so memory stays bounded however many arrive.
   * @default 2
   */
  concurrency?: number
  /**
   * Heap (V8 old generation) of each reading thread, in MiB: above `GGUF_LIMITS`'
   * 64 MiB `maxHeaderMemoryBytes` with room for V8's own use.
   * @default 192
   */
  heapMb?: number
  /**
   * Longest read of one header before its thread is stopped. Headers within the limits take
   * well under a second from a local disk.
   * @default 30_000
   */
  timeoutMs?: number
  /** @default GGUF_LIMITS */
  limits?: Partial<GgufLimits>
}

/** Options of {@link GgufHeaderPool.read}. */
export interface PoolReadOptions {
  /** An open descriptor of the file (it stays the caller's: open until the read settles). */
  fd?: number
  /** Aborting stops the read (a waiting one never starts). */
  signal?: AbortSignal
  /** Also hand back the metadata's scalar values (`GgufHeaderFacts.scalars`). @default false */
  scalars?: boolean
}

interface Task {
  path: string
  options: PoolReadOptions
  resolve: (facts: GgufHeaderFacts) => void
  reject: (err: unknown) => void
  /** Takes the task out of line when its signal aborts before it starts. */
  dequeue: () => void
}

const THREAD = new URL('./header-thread.js', import.meta.url)

/**
 * Reads GGUF headers off the event loop: each in a worker thread of its own, with a heap limit
 * and a time limit, a few at a time. A hostile header (one that would need gigabytes, or hours)
 * ends as a GgufFormatError; the calling process neither stalls nor runs out of memory.
 *
 * ```ts
 * const headers = new GgufHeaderPool()
 * const facts = await headers.read('/models/llama.gguf')
 * await headers.close()
 * ```
 */
export class GgufHeaderPool {
  readonly #concurrency: number
  readonly #heapMb: number
  readonly #timeoutMs: number
  readonly #limits: Partial<GgufLimits> | undefined
  readonly #waiting: Task[] = []
  readonly #threads = new Set<Worker>()
  #closed = false

  constructor(options: GgufHeaderPoolOptions = {}) {
    this.#concurrency = options.concurrency ?? 2
    this.#heapMb = options.heapMb ?? 192
    this.#timeoutMs = options.timeoutMs ?? 30_000
    this.#limits = options.limits
  }

  /** Headers being read now. */
  get running(): number {
    return this.#threads.size
  }

  /** Headers waiting for a thread. */
  get waiting(): number {
    return this.#waiting.length
  }

  /**
   * Reads the header of `path` (or of `options.fd`) in a thread.
   * @throws GgufFormatError as `readGgufHeader`, and when the read needs more than the heap or
   *   the time allowed; the file system's error (e.g. ENOENT); the signal's reason when aborted;
   *   an Error after `close()`.
   */
  read(path: string, options: PoolReadOptions = {}): Promise<GgufHeaderFacts> {
    if (this.#closed) return Promise.reject(new Error('the GGUF header pool is closed'))
    options.signal?.throwIfAborted()
    return new Promise((resolve, reject) => {
      const task: Task = {
        path,
        options,
        resolve,
        reject,
        dequeue: () => {
          const i = this.#waiting.indexOf(task)
          if (i >= 0) this.#waiting.splice(i, 1)
          reject(options.signal?.reason)
        },
      }
      this.#waiting.push(task)
      options.signal?.addEventListener('abort', task.dequeue, { once: true })
      this.#next()
    })
  }

  #next(): void {
    while (!this.#closed && this.#threads.size < this.#concurrency) {
      const task = this.#waiting.shift()
      if (!task) return
      this.#run(task)
    }
  }

  #run(task: Task): void {
    const { path, options } = task
    options.signal?.removeEventListener('abort', task.dequeue)
    const input: HeaderThreadInput = {
      path,
      fd: options.fd,
      limits: this.#limits,
      scalars: options.scalars ?? false,
    }
    const thread = new Worker(THREAD, {
      workerData: input,
      resourceLimits: { maxOldGenerationSizeMb: this.#heapMb, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 },
    })
    this.#threads.add(thread)
    let settled = false
    // The thread is gone before the promise settles, so the caller may close the descriptor.
    const settle = (outcome: () => void): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
      void thread.terminate().finally(() => {
        this.#threads.delete(thread)
        outcome()
        this.#next()
      })
    }
    const onAbort = (): void => settle(() => task.reject(options.signal?.reason))
    options.signal?.addEventListener('abort', onAbort, { once: true })
    const timer = setTimeout(
      () =>
        settle(() =>
          task.reject(
            new GgufFormatError(path, `reading its header took longer than ${this.#timeoutMs / 1000} s`),
          ),
        ),
      this.#timeoutMs,
    )
    thread.once('message', (result: HeaderThreadResult) =>
      settle(() => {
        if (result.ok) task.resolve(result.facts)
        else if (result.kind === 'gguf') task.reject(new GgufFormatError(path, result.message))
        else task.reject(Object.assign(new Error(result.message), { code: result.code }))
      }),
    )
    thread.once('error', (err: Error & { code?: string }) =>
      settle(() =>
        task.reject(
          err.code === 'ERR_WORKER_OUT_OF_MEMORY'
            ? new GgufFormatError(path, `reading its header needs more than the ${this.#heapMb} MiB allowed`)
            : err,
        ),
      ),
    )
    thread.once('exit', (code) =>
      settle(() =>
        task.reject(
          new Error(
            this.#closed
              ? 'the GGUF header pool is closed'
              : `the thread reading ${path} exited (code ${code}) without an answer`,
          ),
        ),
      ),
    )
  }

  /** Stops every thread and fails every waiting read. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true
    for (const task of this.#waiting.splice(0)) {
      task.options.signal?.removeEventListener('abort', task.dequeue)
      task.reject(new Error('the GGUF header pool is closed'))
    }
    await Promise.all([...this.#threads].map((t) => t.terminate()))
  }
}
