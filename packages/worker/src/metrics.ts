import { createMetricsRegistry, RbeeError } from '@rbee/common'
import { Counter, Gauge, Histogram } from 'prom-client'
import type { EngineStatus, GenerationRequest, GenerationResult } from './engine/engine.js'

/** What the worker's gauges read when `/metrics` is scraped. */
export interface WorkerMetricsSources {
  /** Slots, once the engine is loaded. */
  slots: () => EngineStatus | undefined
}

/** The outcome label of a generation that threw: its code without `RBEE_`, in lower case. */
function failureOutcome(err: unknown): string {
  return err instanceof RbeeError ? err.code.replace(/^RBEE_/, '').toLowerCase() : 'error'
}

/**
 * The worker's Prometheus metrics, named as the queen's (`rbee_worker_*`), on a registry of its
 * own: generations by outcome, tokens, time to first token, time waiting for a slot, requests
 * waiting now, slots busy and total.
 */
export class WorkerMetrics {
  readonly registry = createMetricsRegistry('rbee_worker_')
  readonly #requests: Counter<'outcome'>
  readonly #tokens: Counter
  readonly #promptTokens: Counter
  readonly #ttft: Histogram
  readonly #queueWait: Histogram
  readonly #waiting: Gauge

  constructor(sources: WorkerMetricsSources) {
    const registers = [this.registry]
    this.#requests = new Counter({
      name: 'rbee_worker_requests_total',
      help: 'Generations by outcome (ok, cancelled, busy: no slot in time, prompt_too_long, …)',
      labelNames: ['outcome'],
      registers,
    })
    this.#tokens = new Counter({ name: 'rbee_worker_tokens_total', help: 'Tokens generated', registers })
    this.#promptTokens = new Counter({
      name: 'rbee_worker_prompt_tokens_total',
      help: 'Prompt tokens read',
      registers,
    })
    this.#ttft = new Histogram({
      name: 'rbee_worker_time_to_first_token_seconds',
      help: 'From a generation asked for to its first token (slot wait and prompt included)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    })
    this.#queueWait = new Histogram({
      name: 'rbee_worker_queue_wait_seconds',
      help: 'Time a generation waited for a free slot',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
      registers,
    })
    this.#waiting = new Gauge({
      name: 'rbee_worker_requests_waiting',
      help: 'Generations waiting for a free slot now',
      registers,
    })
    const slots = (name: string, help: string, read: (s: EngineStatus) => number): void => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          const s = sources.slots()
          this.set(s ? read(s) : 0)
        },
      })
    }
    slots('rbee_worker_slots', 'Slots (generations this worker runs at once)', (s) => s.slotsTotal)
    slots('rbee_worker_slots_busy', 'Slots generating now', (s) => s.slotsBusy)
  }

  /** Runs one generation through `run`, counting it: outcome, tokens, slot wait, first token. */
  async generation(
    req: GenerationRequest,
    run: (req: GenerationRequest) => Promise<GenerationResult>,
  ): Promise<GenerationResult> {
    const t0 = performance.now()
    let waiting = true
    let first = true
    this.#waiting.inc()
    const started = (): void => {
      if (!waiting) return
      waiting = false
      this.#waiting.dec()
    }
    try {
      const result = await run({
        ...req,
        onStart: (info) => {
          started()
          req.onStart?.(info)
        },
        onText: (text) => {
          if (first) {
            first = false
            this.#ttft.observe((performance.now() - t0) / 1000)
          }
          req.onText(text)
        },
      })
      this.#requests.inc({ outcome: result.stopReason === 'cancelled' ? 'cancelled' : 'ok' })
      this.#tokens.inc(result.tokensOut)
      this.#promptTokens.inc(result.promptTokens)
      this.#queueWait.observe(result.queueMs / 1000)
      return result
    } catch (err) {
      this.#requests.inc({ outcome: failureOutcome(err) })
      throw err
    } finally {
      started()
    }
  }

  /** The Prometheus text exposition. */
  text(): Promise<string> {
    return this.registry.metrics()
  }

  get contentType(): string {
    return this.registry.contentType
  }
}
