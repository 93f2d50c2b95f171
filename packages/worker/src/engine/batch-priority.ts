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
