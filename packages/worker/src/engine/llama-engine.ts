import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { availableParallelism } from 'node:os'
import { dirname, join } from 'node:path'
import { type Logger, RbeeError } from '@rbee/common'
import type { Backend, StopReason } from '@rbee/contracts'
import {
  type ChatHistoryItem,
  type ChatModelFunctions,
  type ChatWrapper,
  getLlama,
  type Llama,
  LlamaChat,
  LlamaCompletion,
  LlamaContext,
  type LlamaContextSequence,
  type LlamaEmbeddingContext,
  type LlamaGrammar,
  LlamaLogLevel,
  type LlamaModel,
  resolveChatWrapper,
  type Token,
} from 'node-llama-cpp'
import { PATCH_MARKER } from '../llama-patch/batch-loop-patch.js'
import { patchJsonGrammar, schemaGrammarsWritten } from '../llama-patch/json-grammar-patch.js'
import { gatedGeneratingFirst, observed } from './batch-priority.js'
import { chatHistoryBytes, toChatHistory } from './chat-history.js'
import { generateWithinSchema } from './constraints/checked-generation.js'
import { visibleDevicesEnv } from './device-selection.js'
import type {
  EmbedOptions,
  Engine,
  EngineStatus,
  GeneratedToolCall,
  GenerationInput,
  GenerationRequest,
  GenerationResult,
  RankResult,
  ResolvedSampling,
} from './engine.js'
import { jsonSchemaGrammar } from './json-grammar.js'
import { OutputQueue, overlapsOutput } from './output-queue.js'
import { type TokenizeFn, tokenizeInPieces } from './piecewise-tokenizer.js'
import { maxTokenBytes, PromptBudget } from './prompt-budget.js'
import { Ranker } from './ranker.js'
import { SlotPool } from './slot-pool.js'
import { TokenMemo } from './token-memo.js'
import { callSyntaxTokens, planTools, ToolCallStream, type ToolPlan } from './tool-calls.js'
import { plannedBatches, runWarmup, shouldWarmUp, type WarmupMode, warmupPlan } from './warm-up.js'

export interface LlamaEngineOptions {
  modelPath: string
  backend: 'auto' | Backend
  /** GPU indexes; several split the model across them. */
  device: readonly number[]
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
  /**
   * Run every batch shape once before the engine is returned (see `shouldWarmUp`).
   * @default 'auto'
   */
  warmup?: WarmupMode
}

/** What a warm-up ran and how long it took. */
export interface WarmupReport {
  ms: number
  /** The token count of every batch it ran, in order. */
  batches: number[]
  /** Whether those were the batches it meant to run (none split, none merged, none left out). */
  asPlanned: boolean
  /** False when its time budget ran out first. */
  complete: boolean
}

/** Prompt tokens the warm-up leaves free in a sequence (it samples one token after each prompt). */
const WARMUP_MARGIN = 2
/**
 * A warm-up starts no batch after this long: a hive waits 120 s (by default) for a worker to be
 * ready, model loading included. On an NVIDIA GPU with empty caches it took seconds (bench/gpu);
 * on a software Vulkan driver, minutes.
 */
const WARMUP_BUDGET_MS = 60_000

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

/**
 * The stop sequence a custom stop trigger stands for: the trigger is the sequence's text (and
 * tokens), so its text parts joined give it back.
 */
function stopSequenceOf(trigger: readonly unknown[] | undefined, stop: readonly string[]): string | null {
  if (trigger === undefined) return null
  const text = trigger.filter((t): t is string => typeof t === 'string').join('')
  return stop.find((s) => s === text) ?? stop.find((s) => text.includes(s)) ?? (text || null)
}

/**
 * Whether LlamaCompletion puts a BOS token before a text prompt, and so tokenizes the text with
 * `trimLeadingSpace` (node-llama-cpp's `resolveBeginningTokenToPrepend`, which it does not export).
 */
function completionPrependsBos(model: LlamaModel): boolean {
  switch (model.vocabularyType) {
    case 'rwkv':
    case 'ugm':
      return false
    case 'wpm':
      return model.tokens.bos != null
    default:
      return model.tokens.shouldPrependBosToken && model.tokens.bos != null
  }
}

/** A prompt checked against the context and tokenized before a slot is taken. */
type PreparedPrompt = { promptTokens: number; release: () => void } & (
  | { kind: 'completion'; tokens: Token[] }
  | { kind: 'chat'; history: ChatHistoryItem[]; tools: ToolPlan; grammar: LlamaGrammar | undefined }
)

/** How many tool calls, and generated tokens, a chat with tools may have. */
interface ToolBudget {
  calls: number
  maxTokens: number
}

/**
 * What the batch strategy reads: how many sequences are generating (it waits for their tokens),
 * and who is told of each batch (the warm-up, while it runs).
 */
interface Live {
  generating: number
  onBatch: ((tokens: number) => void) | undefined
}

/** Ordinary text, tokenized for the warm-up's prompts. */
const WARMUP_TEXT =
  'The bees carry pollen from flower to flower while the hive keeps count of every trip, and the queen waits.'

/** The embedding context is at most this many tokens. */
const EMBEDDING_CONTEXT = 2048
/**
 * One embeddings request may have at most this many times an input's room in tokens, all inputs
 * together (about 131k tokens with the 2048-token embedding context; OpenAI allows 300k): the
 * vectors are computed one request at a time, so a larger one would hold the others back.
 */
const EMBEDDING_REQUEST_INPUTS_WORTH = 64

/**
 * Each input cut to the bytes that `tokens` tokens can span at most (a token stands for at most
 * `maxTokenBytes` bytes), at a character boundary: what is cut could only have become tokens past
 * the first `tokens`. Inputs are kept whole when the vocabulary gives no such bound.
 */
function truncatedToBytes(inputs: string[], tokens: number, maxTokenBytes: number | undefined): string[] {
  if (maxTokenBytes === undefined) return inputs
  const max = tokens * maxTokenBytes
  return inputs.map((input) => {
    if (Buffer.byteLength(input) <= max) return input
    // A character cut in half decodes to U+FFFD at the end: dropped.
    return Buffer.from(input, 'utf8')
      .subarray(0, max)
      .toString('utf8')
      .replace(/\uFFFD$/, '')
  })
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
  readonly #live: Live
  /** Token output, written while the next token is computed where a core is free for it. */
  readonly #output: OutputQueue
  #embedding: Promise<LlamaEmbeddingContext> | undefined
  #embedQueue: Promise<unknown> = Promise.resolve()
  #closed = false
  /** node-llama-cpp's own tokenizer (one native call), for tokenizing in pieces. */
  readonly #tokenize: TokenizeFn
  /** Chats tokenized ahead in pieces, found by LlamaChat's own tokenizing. */
  readonly #memo: TokenMemo
  readonly #budget: PromptBudget
  readonly #completionOptions: 'trimLeadingSpace' | undefined
  /** Context tokens each tool call takes beyond the ones the model samples. */
  readonly #callSyntaxTokens: number
  readonly #ranker: Ranker
  /** llama.cpp compute threads of every context (0: every core). */
  readonly #threads: number

  private constructor(
    llama: Llama,
    model: LlamaModel,
    context: LlamaContext,
    backend: Backend,
    options: LlamaEngineOptions,
    live: Live,
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
    this.#tokenize = model.tokenizer
    this.#memo = TokenMemo.install(model)
    this.#budget = new PromptBudget(this.contextSize, maxTokenBytes(model))
    this.#completionOptions = completionPrependsBos(model) ? 'trimLeadingSpace' : undefined
    this.#callSyntaxTokens = callSyntaxTokens(this.#chatWrapper.settings, model.tokenizer)
    this.#threads = options.threads
    this.#ranker = new Ranker({
      model,
      tokenize: this.#tokenize,
      budget: this.#budget,
      contextSize: this.contextSize,
      threads: options.threads,
    })
    options.logger.info(
      {
        vocabulary: model.vocabularyType,
        context_tokens: this.contextSize,
        max_token_bytes: this.#budget.maxTokenBytes ?? null,
        max_prompt_bytes:
          this.#budget.maxTokenBytes === undefined ? null : this.contextSize * this.#budget.maxTokenBytes,
      },
      'prompt limits',
    )
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
    if (!(await patchJsonGrammar()))
      log.warn(
        'node-llama-cpp is not the version rbee patches: its JSON grammar can write numbers out of range',
      )
    // llama.cpp reads these as it loads its backends.
    Object.assign(process.env, visibleDevicesEnv(options.backend, options.device, process.env))
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
    const live: Live = { generating: 0, onBatch: undefined }
    let context: LlamaContext
    try {
      context = await model.createContext({
        sequences: options.slots,
        contextSize: options.ctxSize * options.slots,
        threads: options.threads,
        batchSize: Math.min(512, options.ctxSize * options.slots),
        batching: {
          itemPrioritizationStrategy: observed(
            gatedGeneratingFirst(() => live.generating),
            (tokens) => live.onBatch?.(tokens),
          ),
        },
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
    const engine = new LlamaEngine(llama, model, context, backend, options, live)
    const mode = options.warmup ?? 'auto'
    if (!shouldWarmUp(mode, backend)) {
      log.info(
        { backend, warmup: mode },
        mode === 'off' ? 'no warm-up (--warmup off)' : 'no warm-up on the CPU (--warmup on runs it anyway)',
      )
      return engine
    }
    try {
      engine.warmup = await engine.#warmUp(context.batchSize)
    } catch (err) {
      await engine.close().catch(() => {})
      throw new RbeeError('RBEE_ENGINE', `warm-up failed: ${String(err)}`, { cause: err })
    }
    const w = engine.warmup
    log[w.asPlanned ? 'info' : 'warn'](
      {
        warmup_ms: Math.round(w.ms),
        batches: w.batches.length,
        batch_tokens: [...new Set(w.batches)].sort((a, b) => a - b),
        as_planned: w.asPlanned,
        complete: w.complete,
      },
      w.asPlanned
        ? 'warmed up: every batch shape ran once'
        : w.complete
          ? 'warmed up, but not every batch ran as planned'
          : `warmed up in part: the warm-up stopped after ${WARMUP_BUDGET_MS / 1000} s (the other shapes compile on first use)`,
    )
    return engine
  }

  /** What the warm-up ran before the engine was returned; undefined when it did not run. */
  warmup: WarmupReport | undefined

  /**
   * Runs every batch shape the engine will use once, so its one-time GPU work (pipeline
   * compiles, lazily loaded kernels) is done before the first request instead of during it.
   */
  async #warmUp(batchSize: number): Promise<WarmupReport> {
    const started = performance.now()
    const room = Math.max(1, this.contextSize - WARMUP_MARGIN)
    const plan = warmupPlan(this.#sequences.length, batchSize, room * this.#sequences.length)
    const batches: number[] = []
    this.#live.onBatch = (tokens) => batches.push(tokens)
    let complete: boolean
    try {
      complete = await runWarmup({
        sequences: this.#sequences,
        plan,
        room,
        filler: this.#model.tokenize(WARMUP_TEXT),
        setGenerating: (n) => {
          this.#live.generating = n
        },
        deadline: started + WARMUP_BUDGET_MS,
      })
    } finally {
      this.#live.onBatch = undefined
    }
    const planned = plannedBatches(plan)
    const asPlanned = batches.length === planned.length && batches.every((b, i) => b === planned[i])
    return { ms: performance.now() - started, batches, asPlanned, complete }
  }

  status(): EngineStatus {
    return { slotsTotal: this.#pool.size, slotsBusy: this.#pool.busy }
  }

  onStatusChange(fn: () => void): void {
    this.#listeners.push(fn)
  }

  /**
   * Refuses a prompt that cannot fit the context (by its bytes, before tokenizing; then by its
   * tokens) and tokenizes it in pieces, a turn of the event loop between pieces, so that neither a
   * refused nor an accepted prompt holds `/health` and the other requests for long.
   * @throws RbeeError `RBEE_PROMPT_TOO_LONG`; the signal's reason when it aborts.
   */
  async #prepare(input: GenerationInput, signal: AbortSignal): Promise<PreparedPrompt> {
    const budget = this.#budget
    // One token of room for the answer at least.
    const maxTokens = this.contextSize - 1
    if (input.kind === 'completion') {
      budget.checkBytes(Buffer.byteLength(input.prompt), 'the prompt', 'prompt')
      const tokens = await tokenizeInPieces(this.#tokenize, input.prompt, {
        options: this.#completionOptions,
        maxTokens,
        signal,
      })
      budget.checkTokens(tokens.length, 'the prompt', 'prompt')
      return { kind: 'completion', tokens, promptTokens: tokens.length, release: () => {} }
    }
    const history = toChatHistory(input.turns)
    const tools = planTools(this.#chatWrapper, input.tools)
    budget.checkBytes(chatHistoryBytes(history), 'the text of the messages', 'messages')
    const grammar =
      input.format === undefined ? undefined : await jsonSchemaGrammar(this.#llama, input.format)
    const held = await this.#memo.hold(
      tools.wrapper.generateContextState({
        chatHistory: history,
        ...(tools.functions === undefined ? {} : { availableFunctions: tools.functions }),
        documentFunctionParams: true,
      }).contextText,
      { maxTokens, signal },
    )
    try {
      budget.checkTokens(held.count, 'the chat (messages and template)', 'messages')
    } catch (err) {
      held.release()
      throw err
    }
    return { kind: 'chat', history, tools, grammar, promptTokens: held.count, release: held.release }
  }

  /**
   * The most calls and generated tokens a chat with tools may have: node-llama-cpp counts only
   * sampled tokens against `maxTokens`, and a context that fills up in the middle of a call
   * cannot be shifted, so each call's own syntax is kept room for.
   * @throws RbeeError `RBEE_PROMPT_TOO_LONG` when the chat leaves no room for a call.
   */
  #toolBudget(plan: ToolPlan, promptTokens: number, maxTokens: number): ToolBudget {
    const room = this.contextSize - promptTokens - 1
    const per = this.#callSyntaxTokens
    // At most half the room for the calls' syntax.
    const calls = Math.min(plan.maxCalls, Math.floor(room / (2 * per)))
    if (calls < 1)
      throw new RbeeError(
        'RBEE_PROMPT_TOO_LONG',
        `the chat with its tools is ${promptTokens} tokens and leaves no room for a tool call in this worker's context of ${this.contextSize} tokens`,
        { details: { issues: [{ path: 'messages', message: 'does not fit the context' }] } },
      )
    return { calls, maxTokens: Math.max(1, Math.min(maxTokens, room - calls * per)) }
  }

  async countTokens(input: GenerationInput, signal: AbortSignal): Promise<number> {
    const prompt = await this.#prepare(input, signal)
    prompt.release()
    return prompt.promptTokens
  }

  /**
   * Generates under the request's schemas, checking the output (see checked-generation.ts).
   * @throws RbeeError `RBEE_OUTPUT_CONSTRAINT` when every attempt broke the schema.
   */
  generate(req: GenerationRequest): Promise<GenerationResult> {
    return generateWithinSchema((r) => this.#generateOnce(r), req, schemaGrammarsWritten())
  }

  async #generateOnce(req: GenerationRequest): Promise<GenerationResult> {
    const queuedAt = performance.now()
    const prompt = await this.#prepare(req.input, req.signal)
    const preparedAt = performance.now()
    let slot: number
    let toolBudget: ToolBudget | undefined
    try {
      if (prompt.kind === 'chat' && prompt.tools.functions !== undefined)
        toolBudget = this.#toolBudget(prompt.tools, prompt.promptTokens, req.sampling.maxTokens)
      slot = await this.#pool.acquire(req.signal)
    } catch (err) {
      prompt.release()
      throw err
    }
    const startedAt = performance.now()
    let firstTokenAt: number | undefined
    let tokensOut = 0
    let generating = false
    const doneGenerating = (): void => {
      if (generating) this.#live.generating--
      generating = false
    }
    const sequence = this.#sequences[slot]!
    const countTokens = (count: number): void => {
      if (firstTokenAt === undefined) {
        firstTokenAt = performance.now()
        generating = true
        this.#live.generating++
      }
      tokensOut += count
      // The last token: this sequence queues no more decodes.
      if (tokensOut >= req.sampling.maxTokens) doneGenerating()
    }
    try {
      const options = this.#options(
        req.sampling,
        req.signal,
        (tokens) => countTokens(tokens.length),
        req.onText,
      )
      let text: string
      let reason: string
      let trigger: readonly unknown[] | undefined
      let toolCalls: GeneratedToolCall[] = []
      const promptTokens = prompt.promptTokens
      req.onStart?.({ slot, promptTokens })
      if (prompt.kind === 'completion') {
        const completion = new LlamaCompletion({ contextSequence: sequence })
        try {
          const res = await completion.generateCompletionWithMeta(prompt.tokens, options)
          text = res.response
          reason = res.metadata.stopReason
          if (res.metadata.stopReason === 'customStopTrigger') trigger = res.metadata.customStopTrigger
        } finally {
          this.#output.flush()
          completion.dispose({ disposeSequence: false })
        }
      } else {
        const chat = new LlamaChat({ contextSequence: sequence, chatWrapper: prompt.tools.wrapper })
        const calls = new ToolCallStream(
          (event) => this.#output.push(() => req.onToolCall?.(event)),
          countTokens,
          this.#model.tokenizer,
        )
        try {
          const res = await chat.generateResponse(
            prompt.history,
            this.#chatOptions(prompt.tools, prompt.grammar, toolBudget, options, calls),
          )
          text = res.response
          reason = res.metadata.stopReason
          if (res.metadata.stopReason === 'customStopTrigger') trigger = res.metadata.customStopTrigger
          toolCalls = calls.calls
        } finally {
          this.#output.flush()
          chat.dispose({ disposeSequence: false })
        }
      }
      const endedAt = performance.now()
      return {
        text,
        toolCalls,
        promptTokens,
        tokensOut,
        stopReason: req.signal.aborted ? 'cancelled' : toStopReason(reason),
        stopSequence: stopSequenceOf(trigger, req.sampling.stop),
        queueMs: startedAt - preparedAt,
        // Tokenizing counts as prompt processing, as it did when it ran in the slot.
        promptMs: (firstTokenAt ?? endedAt) - startedAt + (preparedAt - queuedAt),
        generationMs: firstTokenAt === undefined ? 0 : endedAt - firstTokenAt,
      }
    } catch (err) {
      if (err instanceof RbeeError) throw err
      throw new RbeeError('RBEE_ENGINE', `generation failed: ${String(err)}`, { cause: err })
    } finally {
      doneGenerating()
      this.#pool.release(slot)
      prompt.release()
    }
  }

  /** LlamaChat's options: sampling, and either the tools' functions or an answer grammar. */
  #chatOptions<O extends { maxTokens: number }>(
    tools: ToolPlan,
    grammar: LlamaGrammar | undefined,
    budget: ToolBudget | undefined,
    options: O,
    calls: ToolCallStream,
  ) {
    if (grammar !== undefined) return { ...options, grammar }
    if (tools.functions === undefined || budget === undefined) return options
    const functions: ChatModelFunctions = tools.functions
    return {
      ...options,
      maxTokens: budget.maxTokens,
      functions,
      documentFunctionParams: true,
      maxParallelFunctionCalls: budget.calls,
      onFunctionCallParamsChunk: calls.paramsChunk,
      onFunctionCall: calls.called,
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

  get embeddingContextSize(): number {
    return Math.min(this.contextSize, EMBEDDING_CONTEXT)
  }

  /**
   * Every input is checked against the embedding context by its bytes first (all of them, before
   * any work), then tokenized in pieces and checked by its tokens; the vectors are computed one
   * request at a time. With `truncate`, an input that does not fit keeps its first tokens instead
   * (cut first by bytes, where a token's longest text bounds how many can matter).
   * @throws RbeeError `RBEE_PROMPT_TOO_LONG` naming the input; `RBEE_CANCELLED`.
   */
  async embed(
    inputs: string[],
    signal: AbortSignal,
    options: EmbedOptions = {},
  ): Promise<{ vectors: number[][]; tokens: number }> {
    // BOS and EOS take two of the context's tokens, and the input must stay under its size.
    const tokens = Math.min(this.embeddingContextSize, options.contextSize ?? Number.POSITIVE_INFINITY) - 2
    const room = { tokens, name: `the ${tokens} tokens an embedding input may have here` }
    const totalTokens = tokens * EMBEDDING_REQUEST_INPUTS_WORTH
    const total = { tokens: totalTokens, name: `the ${totalTokens} tokens one embeddings request may have` }
    const field = options.field ?? 'input'
    const name = (i: number): string => (inputs.length === 1 ? `the ${field}` : `${field}[${i}]`)
    const param = (i: number): string => (inputs.length === 1 ? field : `${field}.${i}`)
    const keep = options.truncate ? truncatedToBytes(inputs, tokens - 1, this.#budget.maxTokenBytes) : inputs
    const bytes = keep.map((input) => Buffer.byteLength(input))
    for (const [i, b] of bytes.entries()) this.#budget.checkBytes(b, name(i), param(i), room)
    this.#budget.checkBytes(
      bytes.reduce((a, b) => a + b, 0),
      'the inputs together',
      field,
      total,
    )
    const tokenized: Token[][] = []
    let sum = 0
    for (const [i, input] of keep.entries()) {
      let t = await tokenizeInPieces(this.#tokenize, input, { maxTokens: tokens - 1, signal })
      if (options.truncate) t = t.slice(0, tokens - 1)
      this.#budget.checkTokens(t.length, name(i), param(i), room)
      sum += t.length
      this.#budget.checkTokens(sum, 'the inputs together', field, total)
      tokenized.push(t)
    }
    // One embedding context, used by one request at a time.
    const run = this.#embedQueue.then(async () => {
      // The worker's own thread count: node-llama-cpp's default (6) spin-waits on a smaller CPU
      // (two short inputs took 7 s on 2 cores, 0.1 s with 1 thread).
      this.#embedding ??= this.#model.createEmbeddingContext({
        contextSize: this.embeddingContextSize,
        threads: this.#threads,
      })
      const ctx = await this.#embedding
      const vectors: number[][] = []
      let used = 0
      for (const input of tokenized) {
        if (signal.aborted) throw new RbeeError('RBEE_CANCELLED', 'request cancelled')
        used += input.length
        const e = await ctx.getEmbeddingFor(input)
        vectors.push([...e.vector])
      }
      return { vectors, tokens: used }
    })
    this.#embedQueue = run.catch(() => {})
    return run
  }

  rank(query: string, documents: string[], signal: AbortSignal): Promise<RankResult> {
    return this.#ranker.rank(query, documents, signal)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#pool.close()
    await this.#ranker.close()
    const embedding = this.#embedding
    if (embedding) await (await embedding.catch(() => undefined))?.dispose()
    await this.#context.dispose()
    await this.#model.dispose()
    await this.#llama.dispose()
  }
}
