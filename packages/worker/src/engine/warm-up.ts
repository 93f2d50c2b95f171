import type { Backend } from '@rbee/contracts'
import type { Token } from 'node-llama-cpp'

/** `--warmup`: `auto` warms up on a GPU only. */
export type WarmupMode = 'auto' | 'on' | 'off'

/**
 * Whether a worker warms up before it reports ready. On a GPU the first batch of each shape pays
 * one-time work: ggml-vulkan compiles its pipelines on first use (seconds on a fresh machine,
 * which the driver then caches on disk), ggml-cuda loads its kernels lazily. On the CPU there is
 * nothing of the kind to pay, so `auto` skips it there.
 */
export function shouldWarmUp(mode: WarmupMode, backend: Backend): boolean {
  return mode === 'on' || (mode === 'auto' && backend !== 'cpu')
}

/** The batches a warm-up runs. */
export interface WarmupPlan {
  /** Decode batches: this many sequences at once, one token each, every one with its logits. */
  decodeWidths: number[]
  /** Prompt batches: this many tokens at once, logits for the last token of each sequence only. */
  promptBatches: number[]
}

/**
 * Up to this many tokens in a batch the GPU backends have a kernel per token count
 * (ggml-vulkan's `mul_mat_vec_max_cols`, ggml-cuda's `MMVQ_MAX_BATCH_SIZE`, both 8).
 */
const PER_COUNT_KERNELS = 8
/**
 * Larger batches go to matrix-multiply kernels chosen by tile size: ggml-vulkan switches at 32
 * and 64 tokens and, with cooperative matrices, by how the tiles fill the GPU; a ladder of sizes
 * meets each choice once.
 */
const LADDER = [16, 32, 48, 64, 96, 128, 192, 256, 384, 512]

/**
 * The batch shapes a worker with `slots` sequences and batches of up to `batchSize` tokens will
 * run: decoding 1 to `slots` sequences at once, and prompt batches of every token count up to 8,
 * then a ladder up to `batchSize` (a prompt, or a prompt beside the tokens of generating slots).
 * `maxPromptTokens` bounds a prompt batch by what the sequences can hold.
 */
export function warmupPlan(slots: number, batchSize: number, maxPromptTokens: number): WarmupPlan {
  const cap = Math.min(batchSize, maxPromptTokens)
  const sizes = new Set<number>()
  for (let n = 2; n <= Math.min(PER_COUNT_KERNELS, cap); n++) sizes.add(n)
  for (const n of LADDER) if (n <= cap) sizes.add(n)
  if (cap >= 2) sizes.add(cap)
  return {
    decodeWidths: Array.from({ length: Math.min(slots, batchSize) }, (_, i) => i + 1),
    promptBatches: [...sizes].sort((a, b) => a - b),
  }
}

/**
 * `total` prompt tokens spread over sequences that hold at most `room` each, so they go into one
 * batch together: the chunk sizes, one per sequence.
 */
export function promptChunks(total: number, room: number): number[] {
  const chunks: number[] = []
  for (let left = total; left > 0; left -= room) chunks.push(Math.min(room, left))
  return chunks
}

/** Decode steps per width: the first after an empty cache, one more with tokens in it. */
const DECODE_STEPS = 2

/** The token count of every batch `runWarmup` makes of `plan`, in order. */
export function plannedBatches(plan: WarmupPlan): number[] {
  return [...plan.decodeWidths.flatMap((w) => Array<number>(DECODE_STEPS).fill(w)), ...plan.promptBatches]
}

/** What the warm-up uses of a context sequence (node-llama-cpp's `LlamaContextSequence`). */
export interface WarmupSequence {
  evaluate(
    tokens: Token[],
    options: { temperature: number; yieldEogToken: boolean },
  ): AsyncGenerator<Token, void, Token | undefined>
  clearHistory(): Promise<void>
}

export interface WarmupRun {
  /** The context's sequences (at least the widest decode's count). */
  sequences: readonly WarmupSequence[]
  plan: WarmupPlan
  /** Tokens one sequence may be given at once. */
  room: number
  /** Ordinary text tokens, cycled to make prompts of any length. */
  filler: readonly Token[]
  /**
   * Told how many sequences decode together (0 when done), so the batch strategy waits until all
   * have queued their token (`gatedGeneratingFirst`) and each decode batch holds all of them.
   */
  setGenerating: (n: number) => void
  /**
   * When (`performance.now()`) to stop starting batches: a slow device (a software Vulkan driver
   * compiled for minutes) must not keep the worker from reporting ready past its hive's patience.
   * The plan's order puts the shapes the first requests meet first.
   */
  deadline: number
}

/**
 * Runs the plan's batches through the context: each decode width as that many sequences sampling
 * together, each prompt batch as one batch spread over as few sequences as hold it. Sampling is
 * greedy and the tokens fed back are fixed (never an end of generation, which would stop a
 * sequence early). Every sequence is empty again afterwards.
 * @returns false when the deadline stopped it before the end of the plan.
 */
export async function runWarmup(run: WarmupRun): Promise<boolean> {
  const { sequences, filler } = run
  const token = filler[0]
  if (token === undefined) throw new Error('no tokens to warm up with')
  const prompt = (length: number, offset: number): Token[] =>
    Array.from({ length }, (_, i) => filler[(offset + i) % filler.length]!)
  const options = { temperature: 0, yieldEogToken: true }
  for (const width of run.plan.decodeWidths) {
    if (performance.now() > run.deadline) return false
    const used = sequences.slice(0, width)
    run.setGenerating(width)
    try {
      const its = used.map((s) => s.evaluate([token], options))
      for (let step = 0; step < DECODE_STEPS; step++) await Promise.all(its.map((it) => it.next(token)))
      await Promise.all(its.map((it) => it.return()))
    } finally {
      run.setGenerating(0)
    }
    await Promise.all(used.map((s) => s.clearHistory()))
  }
  for (const size of run.plan.promptBatches) {
    if (performance.now() > run.deadline) return false
    const chunks = promptChunks(size, run.room)
    const used = sequences.slice(0, chunks.length)
    const its = used.map((s, i) => s.evaluate(prompt(chunks[i]!, i * run.room), options))
    await Promise.all(its.map((it) => it.next()))
    await Promise.all(its.map((it) => it.return()))
    await Promise.all(used.map((s) => s.clearHistory()))
  }
  return true
}
