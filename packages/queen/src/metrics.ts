import { createMetricsRegistry } from '@rbee/common'
import { Counter, Gauge, Histogram } from 'prom-client'
import { ActivityRing } from './activity.js'

/** Values read when `/metrics` is scraped (so gauges never go stale). */
export interface MetricsSources {
  queueDepths: () => Iterable<[model: string, depth: number]>
  workerStates: () => Iterable<[state: string, count: number]>
  hives: () => Iterable<[hiveId: string, up: boolean]>
}

/**
 * The queen's Prometheus metrics, on a registry of its own (several queens may live in one test
 * process): requests, tokens, time to first token, queue depth, workers by state, hive up/down,
 * spawn durations, retries.
 */
export class QueenMetrics {
  readonly registry = createMetricsRegistry('rbee_queen_')
  readonly requests: Counter<'route' | 'model' | 'outcome'>
  readonly tokens: Counter<'model'>
  readonly ttft: Histogram<'route' | 'model'>
  readonly spawnSeconds: Histogram<'model' | 'hive' | 'outcome'>
  readonly retries: Counter<'reason'>
  readonly fastLane: Counter
  readonly evictions: Counter<'model'>
  readonly scaleOuts: Counter<'model'>
  /** The last minutes of requests, first tokens and tokens, for `GET /v1/activity`. */
  readonly activity = new ActivityRing()

  constructor(sources: MetricsSources) {
    const registers = [this.registry]
    this.requests = new Counter({
      name: 'rbee_queen_requests_total',
      help: 'Inference requests by route, model and outcome (ok, error, queue_full, queue_timeout, cancelled, …)',
      labelNames: ['route', 'model', 'outcome'],
      registers,
    })
    this.tokens = new Counter({
      name: 'rbee_queen_tokens_total',
      help: 'Tokens streamed back to clients',
      labelNames: ['model'],
      registers,
    })
    this.ttft = new Histogram({
      name: 'rbee_queen_time_to_first_token_seconds',
      help: 'From request received to first token sent (streams) or answer sent',
      labelNames: ['route', 'model'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    })
    this.spawnSeconds = new Histogram({
      name: 'rbee_queen_spawn_duration_seconds',
      help: 'Spawn-on-demand: from asking a hive to a ready worker',
      labelNames: ['model', 'hive', 'outcome'],
      buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300],
      registers,
    })
    this.retries = new Counter({
      name: 'rbee_queen_retries_total',
      help: 'Requests moved to another worker before their first token',
      labelNames: ['reason'],
      registers,
    })
    this.evictions = new Counter({
      name: 'rbee_queen_evictions_total',
      help: 'Idle workers stopped to make room, by the model they made room for',
      labelNames: ['model'],
      registers,
    })
    this.scaleOuts = new Counter({
      name: 'rbee_queen_scale_outs_total',
      help: "Replicas spawned because a model's queue would wait longer than the scale-out target",
      labelNames: ['model'],
      registers,
    })
    this.fastLane = new Counter({
      name: 'rbee_queen_fast_lane_requests_total',
      help: 'OpenAI completion requests served by the fast lane (straight off the socket, without the HTTP framework)',
      registers,
    })
    new Gauge({
      name: 'rbee_queen_queue_depth',
      help: 'Requests waiting for a free slot, per model',
      labelNames: ['model'],
      registers,
      collect() {
        this.reset()
        for (const [model, depth] of sources.queueDepths()) this.set({ model }, depth)
      },
    })
    new Gauge({
      name: 'rbee_queen_workers',
      help: 'Workers known to the queen, by status',
      labelNames: ['state'],
      registers,
      collect() {
        this.reset()
        for (const [state, n] of sources.workerStates()) this.set({ state }, n)
      },
    })
    new Gauge({
      name: 'rbee_queen_hive_up',
      help: '1 while the hive stream is up, 0 while the hive is offline',
      labelNames: ['hive'],
      registers,
      collect() {
        this.reset()
        for (const [hive, up] of sources.hives()) this.set({ hive }, up ? 1 : 0)
      },
    })
  }

  /** An inference request ended (`outcome`: ok, cancelled, error, …) after streaming `tokens`. */
  requestEnded(labels: { route: string; model: string; outcome: string }, tokens: number): void {
    this.requests.inc(labels)
    if (tokens > 0) this.tokens.inc({ model: labels.model }, tokens)
    this.activity.request(labels.outcome, tokens)
  }

  /** A request's first token went out `seconds` after it arrived. */
  firstToken(labels: { route: string; model: string }, seconds: number): void {
    this.ttft.observe(labels, seconds)
    this.activity.firstToken(seconds * 1000)
  }

  /** The Prometheus text exposition. */
  text(): Promise<string> {
    return this.registry.metrics()
  }

  get contentType(): string {
    return this.registry.contentType
  }
}
