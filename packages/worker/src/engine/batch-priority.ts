import type { BatchItem, PrioritizedBatchItem } from 'node-llama-cpp'

/**
 * How one decode batch is shared between slots, as llama.cpp's own server does it: first one
 * token for every sequence that is generating (an item of a single token), then the rest of the
 * batch to prompts in the order they came. node-llama-cpp's default spreads the batch evenly
 * over every prompt in flight instead, so with several new requests none starts generating
 * until all their prompts are done; this way the first request starts generating after its own
 * prompt, and its tokens ride along with the next prompt's batches almost for free.
 */
export function generatingFirst({
  items,
  size,
}: {
  items: readonly BatchItem[]
  size: number
}): PrioritizedBatchItem[] {
  const out: PrioritizedBatchItem[] = []
  let left = size
  for (const item of items) {
    if (left === 0) return out
    if (item.tokens.length === 1) {
      out.push({ item, processAmount: 1 })
      left--
    }
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
