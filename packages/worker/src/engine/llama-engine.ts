import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { availableParallelism } from 'node:os'
import { dirname, join } from 'node:path'
import { type Logger, RbeeError } from '@rbee/common'
import type { Backend, ChatMessage, StopReason } from '@rbee/contracts'
import {
  type ChatHistoryItem,
  type ChatWrapper,
  getLlama,
  type Llama,
  LlamaChat,
  LlamaCompletion,
  LlamaContext,
  type LlamaContextSequence,
  type LlamaEmbeddingContext,
  LlamaLogLevel,
  type LlamaModel,
  resolveChatWrapper,
} from 'node-llama-cpp'
import { PATCH_MARKER } from '../llama-patch/batch-loop-patch.js'
import { gatedGeneratingFirst } from './batch-priority.js'
import type { Engine, EngineStatus, GenerationRequest, GenerationResult, ResolvedSampling } from './engine.js'
import { OutputQueue, overlapsOutput } from './output-queue.js'
import { SlotPool } from './slot-pool.js'

export interface LlamaEngineOptions {
  modelPath: string
  backend: 'auto' | Backend
  device: number
  slots: number
  /** Context tokens per slot. */
  ctxSize: number
  /** Generation threads; 0 = every core. */
  threads: number
  slotWaitMs: number
  logger: Logger
  /** `local`: the llama.cpp built on this machine; `auto`: that one if present, else prebuilt. */
  llamaBuild: 'auto' | 'prebuilt' | 'local'
  /** Loading progress, 0..1. */
  onLoadProgress?: (progress: number) => void
}

const GPU_ENV: Partial<Record<Backend, string>> = {
  cuda: 'CUDA_VISIBLE_DEVICES',
  vulkan: 'GGML_VK_VISIBLE_DEVICES',
}

/**
 * True when node-llama-cpp's batch loop carries rbee's patch (the worker's entry point installs
 * it before loading node-llama-cpp; see llama-patch/batch-loop-patch.ts).
 */
export function batchLoopPatched(): boolean {
  return LlamaContext.prototype.dispatchPendingBatch.toString().includes(PATCH_MARKER)
}

/** True when `npm run build:llama` (node-llama-cpp's source build) has produced a binary here. */
export function hasLocalLlamaBuild(): boolean {
  // node-llama-cpp/dist/index.js → node-llama-cpp/llama/lastBuild.json
  const entry = createRequire(import.meta.url).resolve('node-llama-cpp')
  return existsSync(join(dirname(entry), '..', 'llama', 'lastBuild.json'))
}

async function loadLlama(options: LlamaEngineOptions, log: Logger): Promise<Llama> {
  const logger = (level: string, message: string): void =>
    log.debug({ level, message: message.trim() }, 'llama.cpp')
  if (options.llamaBuild !== 'prebuilt') {
    if (hasLocalLlamaBuild()) {
      const llama = await getLlama('lastBuild', { logLevel: LlamaLogLevel.warn, logger, skipDownload: true })
      const want = options.backend
      if (want === 'auto' || (want === 'cpu' ? llama.gpu === false : llama.gpu === want)) {
        log.info({ build: 'local', gpu: llama.gpu }, 'using the llama.cpp built on this machine')
        return llama
      }
      await llama.dispose()
      if (options.llamaBuild === 'local') {
        throw new Error(`the llama.cpp built here is for ${llama.gpu || 'cpu'}, not ${want}`)
      }
    } else if (options.llamaBuild === 'local') {
      throw new Error('no llama.cpp has been built on this machine: run `npm run build:llama` first')
    }
  }
  return getLlama({
    gpu: options.backend === 'auto' ? 'auto' : options.backend === 'cpu' ? false : options.backend,
    build: 'never',
    logLevel: LlamaLogLevel.warn,
    logger,
  })
}

function toStopReason(reason: string): StopReason {
  switch (reason) {
    case 'maxTokens':
      return 'length'
    case 'eogToken':
      return 'eos'
    case 'abort':
      return 'cancelled'
    default:
      return 'stop'
  }
}

function toHistory(messages: ChatMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = []
  for (const m of messages) {
    const text =
      typeof m.content === 'string' ? m.content : (m.content ?? []).map((part) => part.text).join('')
    if (m.role === 'system' || m.role === 'developer') history.push({ type: 'system', text })
    else if (m.role === 'assistant') history.push({ type: 'model', response: [text] })
    else history.push({ type: 'user', text })
  }
  // An empty model turn at the end asks for a new answer (a non-empty one is continued).
  if (history.at(-1)?.type !== 'model') history.push({ type: 'model', response: [] })
  return history
}

/**
 * The real engine: one node-llama-cpp model, one context with `slots` sequences. Requests in
 * different slots are decoded together in the same batch by node-llama-cpp's batching dispatcher.
 */
export class LlamaEngine implements Engine {
  readonly backend: Backend
  readonly contextSize: number
  readonly #llama: Llama
  readonly #model: LlamaModel
  readonly #context: LlamaContext
  readonly #sequences: LlamaContextSequence[]
  readonly #pool: SlotPool
  /** Resolved once: resolving the model's chat template costs ~0.5 s, far too much per request. */
  readonly #chatWrapper: ChatWrapper
  readonly #listeners: Array<() => void> = []
  readonly #live: { generating: number }
  /** Token output, written while the next token is computed where a core is free for it. */
  readonly #output: OutputQueue
  #embedding: Promise<LlamaEmbeddingContext> | undefined
  #embedQueue: Promise<unknown> = Promise.resolve()
  #closed = false

  private constructor(
    llama: Llama,
    model: LlamaModel,
    context: LlamaContext,
    backend: Backend,
    options: LlamaEngineOptions,
    live: { generating: number },
  ) {
    this.#live = live
    this.#llama = llama
    this.#model = model
    this.#context = context
    this.backend = backend
    this.#sequences = Array.from({ length: options.slots }, () => context.getSequence())
    this.#chatWrapper = resolveChatWrapper(model)
    this.#output = new OutputQueue(
      (err) => options.logger.error({ err: String(err) }, 'writing generated text failed'),
      overlapsOutput(options.threads, availableParallelism(), backend !== 'cpu'),
    )
    // llama.cpp splits the context between sequences; each slot gets `ctxSize` tokens.
    this.contextSize = Math.min(this.#sequences[0]?.contextSize ?? options.ctxSize, options.ctxSize)
    this.#pool = new SlotPool(options.slots, options.slotWaitMs, () => {
      for (const fn of this.#listeners) fn()
    })
  }

  /**
   * Loads the model and creates the context.
   * @throws RbeeError `RBEE_ENGINE` when llama.cpp cannot load the file or create the context.
   */
  static async load(options: LlamaEngineOptions): Promise<LlamaEngine> {
    const log = options.logger
    const envName = options.backend === 'auto' ? undefined : GPU_ENV[options.backend]
    if (envName && process.env[envName] === undefined) process.env[envName] = String(options.device)
    let llama: Llama
    try {
      llama = await loadLlama(options, log)
    } catch (err) {
      throw new RbeeError(
        'RBEE_ENGINE',
        `no usable llama.cpp backend for "${options.backend}": ${String(err)}`,
        {
          cause: err,
        },
      )
    }
    const backend: Backend = llama.gpu === false ? 'cpu' : llama.gpu
    let model: LlamaModel
    try {
      model = await llama.loadModel({
        modelPath: options.modelPath,
        gpuLayers: backend === 'cpu' ? 0 : 'auto',
        onLoadProgress: options.onLoadProgress,
      })
    } catch (err) {
      await llama.dispose().catch(() => {})
      throw new RbeeError('RBEE_ENGINE', `llama.cpp could not load ${options.modelPath}: ${String(err)}`, {
        cause: err,
      })
    }
    // Sequences generating now (first token out, not finished): the batch strategy waits for them.
    const live = { generating: 0 }
    let context: LlamaContext
    try {
      context = await model.createContext({
        sequences: options.slots,
        contextSize: options.ctxSize * options.slots,
        threads: options.threads,
        batchSize: Math.min(512, options.ctxSize * options.slots),
        batching: { itemPrioritizationStrategy: gatedGeneratingFirst(() => live.generating) },
      })
    } catch (err) {
      await model.dispose().catch(() => {})
      await llama.dispose().catch(() => {})
      throw new RbeeError(
        'RBEE_ENGINE',
        `could not create a context (${options.slots} slots × ${options.ctxSize} tokens): ${String(err)}`,
        { cause: err },
      )
    }
    return new LlamaEngine(llama, model, context, backend, options, live)
  }

  status(): EngineStatus {
    return { slotsTotal: this.#pool.size, slotsBusy: this.#pool.busy }
  }

  onStatusChange(fn: () => void): void {
    this.#listeners.push(fn)
  }

  async generate(req: GenerationRequest): Promise<GenerationResult> {
    const queuedAt = performance.now()
    const slot = await this.#pool.acquire(req.signal)
    const startedAt = performance.now()
    let firstTokenAt: number | undefined
    let tokensOut = 0
    let generating = false
    const doneGenerating = (): void => {
      if (generating) this.#live.generating--
      generating = false
    }
    const sequence = this.#sequences[slot]!
    try {
      const options = this.#options(
        req.sampling,
        req.signal,
        (tokens) => {
          if (firstTokenAt === undefined) {
            firstTokenAt = performance.now()
            generating = true
            this.#live.generating++
          }
          tokensOut += tokens.length
          // The last token: this sequence queues no more decodes.
          if (tokensOut >= req.sampling.maxTokens) doneGenerating()
        },
        req.onText,
      )
      let text: string
      let reason: string
      let promptTokens: number
      if (req.input.kind === 'completion') {
        promptTokens = this.#model.tokenize(req.input.prompt).length
        req.onStart?.({ slot, promptTokens })
        const completion = new LlamaCompletion({ contextSequence: sequence })
        try {
          const res = await completion.generateCompletionWithMeta(req.input.prompt, options)
          text = res.response
          reason = res.metadata.stopReason
        } finally {
          this.#output.flush()
          completion.dispose({ disposeSequence: false })
        }
      } else {
        const chat = new LlamaChat({ contextSequence: sequence, chatWrapper: this.#chatWrapper })
        try {
          const history = toHistory(req.input.messages)
          promptTokens = chat.chatWrapper
            .generateContextState({ chatHistory: history })
            .contextText.tokenize(this.#model.tokenizer).length
          req.onStart?.({ slot, promptTokens })
          const res = await chat.generateResponse(history, options)
          text = res.response
          reason = res.metadata.stopReason
        } finally {
          this.#output.flush()
          chat.dispose({ disposeSequence: false })
        }
      }
      const endedAt = performance.now()
      return {
        text,
        promptTokens,
        tokensOut,
        stopReason: req.signal.aborted ? 'cancelled' : toStopReason(reason),
        queueMs: startedAt - queuedAt,
        promptMs: (firstTokenAt ?? endedAt) - startedAt,
        generationMs: firstTokenAt === undefined ? 0 : endedAt - firstTokenAt,
      }
    } catch (err) {
      if (err instanceof RbeeError) throw err
      throw new RbeeError('RBEE_ENGINE', `generation failed: ${String(err)}`, { cause: err })
    } finally {
      doneGenerating()
      this.#pool.release(slot)
    }
  }

  #options(
    s: ResolvedSampling,
    signal: AbortSignal,
    onToken: (tokens: readonly unknown[]) => void,
    onText: (text: string) => void,
  ) {
    const penalize = s.repeatPenalty !== 1 || s.frequencyPenalty !== 0 || s.presencePenalty !== 0
    return {
      signal,
      stopOnAbortSignal: true,
      maxTokens: s.maxTokens,
      temperature: s.temperature,
      topK: s.topK,
      topP: s.topP,
      minP: s.minP,
      ...(s.seed === undefined ? {} : { seed: s.seed }),
      repeatPenalty: penalize
        ? {
            penalty: s.repeatPenalty,
            frequencyPenalty: s.frequencyPenalty || undefined,
            presencePenalty: s.presencePenalty || undefined,
          }
        : (false as const),
      customStopTriggers: s.stop.length > 0 ? s.stop : undefined,
      onToken,
      onTextChunk: (text: string) => this.#output.push(() => onText(text)),
    }
  }

  embed(inputs: string[], signal: AbortSignal): Promise<{ vectors: number[][]; tokens: number }> {
    // One embedding context, used by one request at a time.
    const run = this.#embedQueue.then(async () => {
      this.#embedding ??= this.#model.createEmbeddingContext({
        contextSize: Math.min(this.contextSize, 2048),
      })
      const ctx = await this.#embedding
      const vectors: number[][] = []
      let tokens = 0
      for (const input of inputs) {
        if (signal.aborted) throw new RbeeError('RBEE_CANCELLED', 'request cancelled')
        tokens += this.#model.tokenize(input).length
        const e = await ctx.getEmbeddingFor(input)
        vectors.push([...e.vector])
      }
      return { vectors, tokens }
    })
    this.#embedQueue = run.catch(() => {})
    return run
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#pool.close()
    const embedding = this.#embedding
    if (embedding) await (await embedding.catch(() => undefined))?.dispose()
    await this.#context.dispose()
    await this.#model.dispose()
    await this.#llama.dispose()
  }
}
