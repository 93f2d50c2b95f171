import type { BatchItem, PrioritizedBatchItem } from 'node-llama-cpp'

/**
 * How one decode batch is shared between slots, as llama.cpp's own server does it: first one
 * token for every sequence that is generating (an item of a single token), then the rest of the
 * batch to prompts in the order they came. node-llama-cpp's default spreads the batch evenly
 * over every prompt in flight instead, so with several new requests none starts generating
 * until all their prompts are done; this way the first request starts generating after its own
 * prompt, and its tokens ride along with the next prompt's batches almost for free. The
 * generating sequences go in the order of their ids, as llama.cpp's server adds its slots.
 */
export function generatingFirst({
  items,
  size,
}: {
  items: readonly BatchItem[]
  size: number
}): PrioritizedBatchItem[] {
  const generating = items.filter((item) => item.tokens.length === 1)
  // In the order of their sequence ids, so llama.cpp computes them in one pass (see
  // llama-patch/batch-loop-patch.ts); when they do not all fit, in the order they were queued,
  // so no sequence waits for the others every time.
  if (generating.length <= size) generating.sort((a, b) => sequenceOf(a) - sequenceOf(b))
  const out: PrioritizedBatchItem[] = []
  let left = size
  for (const item of generating) {
    if (left === 0) return out
    out.push({ item, processAmount: 1 })
    left--
  }
  for (const item of items) {
    if (left === 0) break
    if (item.tokens.length === 1) continue
    const processAmount = Math.min(item.tokens.length, left)
    out.push({ item, processAmount })
    left -= processAmount
  }
  return out
}

/** The sequence id rbee's batch-loop patch adds to each item (last when it is missing). */
function sequenceOf(item: BatchItem): number {
  const id = (item as { sequenceId?: unknown }).sequenceId
  return typeof id === 'number' ? id : Number.MAX_SAFE_INTEGER
}

/**
 * `generatingFirst`, but a batch waits a moment for every generating sequence to be queued.
 * node-llama-cpp starts the next batch as soon as the previous one is sampled, while the
 * sequences sampled in it are still on their way (a few microtasks) to queueing their next
 * token: with 4 generating slots only 3 made each batch, in rotation. Returning no items makes
 * node-llama-cpp's batch loop go round again after those microtasks; `maxSpins` bounds the wait
 * (a sequence that finished does not come back).
 * @param generating - how many sequences are generating now (had a token, not finished).
 */
export function gatedGeneratingFirst(
  generating: () => number,
  maxSpins = 32,
): (options: { items: readonly BatchItem[]; size: number }) => PrioritizedBatchItem[] {
  let spins = 0
  return (options) => {
    let queued = 0
    for (const item of options.items) if (item.tokens.length === 1) queued++
    if (queued < generating() && spins < maxSpins) {
      spins++
      return []
    }
    spins = 0
    return generatingFirst(options)
  }
}

type Strategy = (options: { items: readonly BatchItem[]; size: number }) => PrioritizedBatchItem[]

/** `strategy`, telling `onBatch` how many tokens each batch it makes holds (empty ones are not batches). */
export function observed(strategy: Strategy, onBatch: (tokens: number) => void): Strategy {
  return (options) => {
    const out = strategy(options)
    let tokens = 0
    for (const p of out) tokens += Math.min(p.processAmount, p.item.tokens.length)
    if (tokens > 0) onBatch(tokens)
    return out
  }
}
