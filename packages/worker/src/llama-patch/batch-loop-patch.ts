/**
 * Two small changes to node-llama-cpp 3.21.1's batch loop, applied as the module is loaded
 * (`hooks.ts`), never to the installed file.
 *
 * 1. The lock.
 * node-llama-cpp decodes every batch of a context inside one lock and starts the next batch in
 * the same loop for as long as any sequence has a token queued. With several slots generating,
 * one always has, so the lock is never released, and a new request, which must first erase
 * its slot's old tokens under that same lock, waits until every other generation has ended
 * (measured: the 4th of 4 clients' second request started 1.4 s late, after the other three
 * finished). The patched loop ends after each batch and schedules the next one, so whoever
 * waits for the lock gets it between two batches.
 *
 * 2. The sequence of each batch item. A prioritization strategy sees a batch item's tokens but
 * not whose they are; with it, `generatingFirst` puts the generating sequences in the order of
 * their ids. llama.cpp (KV cache per sequence, as here) computes a batch's tokens of several
 * sequences in one pass only when their ids come in increasing consecutive order, and splits the
 * batch into one pass per run of ids otherwise: 4 slots in the order node-llama-cpp queued them
 * took up to 4 passes instead of 1 (bench/RESULTS.md).
 */
export const PATCH_TARGET = '/node-llama-cpp/dist/evaluator/LlamaContext/LlamaContext.js'

/** The loop's own check, after a batch (not the `let` that starts the loop). */
const ORIGINAL = /(?<!let )shouldHaveAnotherLoop = this\._queuedDecodes\.length > 0;/g
/** The marker lets the worker check at run time that the patch is in (`batchLoopPatched`). */
const PATCHED =
  'shouldHaveAnotherLoop = false; /* rbee: release the context lock between batches */ if (this._queuedDecodes.length > 0) this._scheduleDecode();'
export const PATCH_MARKER = 'rbee: release the context lock between batches'

/** Where the loop makes the items it hands to the prioritization strategy. */
const ORIGINAL_ITEM = /const batchItem = \{\n(\s*)tokens: queuedDecode\.tokens,/g
const PATCHED_ITEM =
  'const batchItem = {\n$1sequenceId: queuedDecode.sequenceId, /* rbee: whose tokens */\n$1tokens: queuedDecode.tokens,'

/** The patched source, or undefined when it is not the code the patch was written for. */
export function patchBatchLoop(source: string): string | undefined {
  if ((source.match(ORIGINAL) ?? []).length !== 1) return undefined
  if ((source.match(ORIGINAL_ITEM) ?? []).length !== 1) return undefined
  return source.replace(ORIGINAL, PATCHED).replace(ORIGINAL_ITEM, PATCHED_ITEM)
}
