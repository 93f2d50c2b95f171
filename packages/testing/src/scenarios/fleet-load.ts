// Load for the fleet scenarios: streamed chat completions through the queen with the official
// `openai` client (no client-side retries: every retry counted is the queen's), bounded in
// count, concurrency and time. Not exported from the package.
import type { TestContext } from 'node:test'
import { BUILTIN_MODEL_ID } from '@rbee/contracts'
import OpenAI from 'openai'
import type { Fleet } from '../fleet.js'
import { metricValue } from '../prom-text.js'
import { waitFor } from '../wait-for.js'

/** What happened to one request. */
export interface LoadResult {
  index: number
  model: string
  ok: boolean
  /** HTTP status of a request refused before streaming, else null. */
  status: number | null
  /** The worker that served it (`x-rbee-worker`), when the queen answered. */
  worker: string | null
  /** Content chunks received (one per token from the tiny model). */
  tokens: number
  error: string | null
  startedAt: number
  firstTokenAt: number | null
  endedAt: number
}

export interface LoadOptions {
  /** The queen's URL (without `/v1`). */
  queenUrl: string
  apiKey: string
  /** The model of request `i`. */
  model: string | ((i: number) => string)
  /** Requests to send at most. */
  total: number
  concurrency: number
  /** @default 64 */
  maxTokens?: number
  /** Each request is aborted after this long. @default 30_000 */
  requestTimeoutMs?: number
  /** No new request starts after this long. @default 60_000 */
  deadlineMs?: number
}

/**
 * Streams `total` chat completions through the queen, `concurrency` at a time, and records for
 * each whether it succeeded, where it ran and how many tokens arrived before it ended.
 */
export class Load {
  readonly results: LoadResult[] = []
  readonly #o: Required<Omit<LoadOptions, 'model'>> & { model: (i: number) => string }
  readonly #openai: OpenAI
  readonly #inflight = new Set<number>()
  #next = 0
  #stopped = false
  #firstTokens = 0
  #done: Promise<LoadResult[]> | undefined

  constructor(options: LoadOptions) {
    const model = options.model
    this.#o = {
      maxTokens: 64,
      requestTimeoutMs: 30_000,
      deadlineMs: 60_000,
      ...options,
      model: typeof model === 'string' ? () => model : model,
    }
    this.#openai = new OpenAI({
      baseURL: `${options.queenUrl}/v1`,
      apiKey: options.apiKey,
      maxRetries: 0,
      timeout: this.#o.requestTimeoutMs,
    })
  }

  /** Requests started and not yet ended. */
  get inFlight(): number {
    return this.#inflight.size
  }

  /** Requests that received at least one token. */
  get withTokens(): number {
    return this.#firstTokens
  }

  /** Requests ended (either way). */
  get ended(): number {
    return this.results.length
  }

  /** Starts sending; `done` resolves once every started request has ended. */
  start(): this {
    const deadline = Date.now() + this.#o.deadlineMs
    const lane = async (): Promise<void> => {
      while (!this.#stopped && this.#next < this.#o.total && Date.now() < deadline) {
        await this.#one(this.#next++)
      }
    }
    this.#done ??= Promise.all(Array.from({ length: this.#o.concurrency }, lane)).then(() =>
      this.results.sort((a, b) => a.index - b.index),
    )
    return this
  }

  /** Starts no further request; resolves once those in flight have ended. */
  async stop(): Promise<LoadResult[]> {
    this.#stopped = true
    return this.done
  }

  get done(): Promise<LoadResult[]> {
    if (!this.#done) throw new Error('Load.start() was not called')
    return this.#done
  }

  /** Polls until `test` holds, or fails after `timeoutMs` naming `what`. */
  async until(what: string, test: (load: this) => boolean, timeoutMs = 20_000): Promise<void> {
    await waitFor(`load: ${what}`, () => test(this), timeoutMs, 10)
  }

  async #one(index: number): Promise<void> {
    const model = this.#o.model(index)
    const r: LoadResult = {
      index,
      model,
      ok: false,
      status: null,
      worker: null,
      tokens: 0,
      error: null,
      startedAt: Date.now(),
      firstTokenAt: null,
      endedAt: 0,
    }
    this.#inflight.add(index)
    try {
      const { data: stream, response } = await this.#openai.chat.completions
        .create({
          model,
          messages: [{ role: 'user', content: `request ${index}` }],
          max_tokens: this.#o.maxTokens,
          stream: true,
        })
        .withResponse()
      r.worker = response.headers.get('x-rbee-worker')
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta?.content) {
          if (r.tokens++ === 0) {
            r.firstTokenAt = Date.now()
            this.#firstTokens++
          }
        }
      }
      r.ok = true
    } catch (err) {
      r.status = err instanceof OpenAI.APIError ? (err.status ?? null) : null
      r.error = err instanceof Error ? err.message : String(err)
    } finally {
      r.endedAt = Date.now()
      this.#inflight.delete(index)
      this.results.push(r)
    }
  }
}

/** Counts of a load's outcomes, for assertions and figures. */
export function summarize(results: readonly LoadResult[]): {
  total: number
  ok: number
  failed: number
  failedBeforeFirstToken: number
  failedMidStream: number
  byWorker: Record<string, number>
} {
  const byWorker: Record<string, number> = {}
  for (const r of results) if (r.ok && r.worker) byWorker[r.worker] = (byWorker[r.worker] ?? 0) + 1
  const failed = results.filter((r) => !r.ok)
  return {
    total: results.length,
    ok: results.length - failed.length,
    failed: failed.length,
    failedBeforeFirstToken: failed.filter((r) => r.tokens === 0).length,
    failedMidStream: failed.filter((r) => r.tokens > 0).length,
    byWorker,
  }
}

export { metricValue }

/** Starts a load of `tiny` (unless another model is named) through `fleet`'s queen with its API key. */
export function startLoad(
  fleet: Fleet,
  options: Omit<LoadOptions, 'queenUrl' | 'apiKey' | 'model'> & { model?: LoadOptions['model'] },
): Load {
  return new Load({
    queenUrl: fleet.queen.url,
    apiKey: fleet.apiKey,
    model: BUILTIN_MODEL_ID,
    ...options,
  }).start()
}

/** How many requests the fleet's queen has retried on another worker so far. */
export async function queenRetries(fleet: Fleet): Promise<number> {
  return metricValue(await fleet.queen.client.metrics(), 'rbee_queen_retries_total')
}

/**
 * The fault scenarios' background traffic: up to 600 requests of the tiny model, 9 at a time,
 * through the fleet's queen, stopped with the test; resolves once a worker on every host (one
 * each) has served a request.
 */
export async function loadOnEveryHost(fleet: Fleet, t: TestContext): Promise<Load> {
  const load = new Load({
    queenUrl: fleet.queen.url,
    apiKey: fleet.apiKey,
    model: BUILTIN_MODEL_ID,
    // Enough that the load outlasts any scenario (its deadline, or the scenario's stop(), ends
    // it): the tiny model serves ~100 requests a second on two hosts, and 600 once ran out a few
    // seconds after a cut host came back, while its worker was still quarantined for the requests
    // the cut had cost it, so no request could show it was taken back.
    total: 5000,
    concurrency: 9,
    maxTokens: 40,
    requestTimeoutMs: 30_000,
    deadlineMs: 45_000,
  }).start()
  t.after(() => load.stop())
  const hosts = fleet.hives.length
  await load.until('every host serving', (l) => new Set(l.results.map((r) => r.worker)).size === hosts)
  return load
}

/** Four short requests of the tiny model, two at a time: whether the fleet still serves after a scenario. */
export function stillServes(fleet: Fleet): Promise<LoadResult[]> {
  return new Load({
    queenUrl: fleet.queen.url,
    apiKey: fleet.apiKey,
    model: BUILTIN_MODEL_ID,
    total: 4,
    concurrency: 2,
    maxTokens: 8,
  }).start().done
}
