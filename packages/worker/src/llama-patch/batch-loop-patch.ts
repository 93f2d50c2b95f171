/**
 * A two-line change to node-llama-cpp 3.21.1's batch loop, applied as the module is loaded
 * (`hooks.ts`), never to the installed file.
 *
 * node-llama-cpp decodes every batch of a context inside one lock and starts the next batch in
 * the same loop for as long as any sequence has a token queued. With several slots generating,
 * one always has, so the lock is never released, and a new request, which must first erase
 * its slot's old tokens under that same lock, waits until every other generation has ended
 * (measured: the 4th of 4 clients' second request started 1.4 s late, after the other three
 * finished). The patched loop ends after each batch and schedules the next one, so whoever
 * waits for the lock gets it between two batches.
 */
export const PATCH_TARGET = '/node-llama-cpp/dist/evaluator/LlamaContext/LlamaContext.js'

/** The loop's own check, after a batch (not the `let` that starts the loop). */
const ORIGINAL = /(?<!let )shouldHaveAnotherLoop = this\._queuedDecodes\.length > 0;/g
/** The marker lets the worker check at run time that the patch is in (`batchLoopPatched`). */
const PATCHED =
  'shouldHaveAnotherLoop = false; /* rbee: release the context lock between batches */ if (this._queuedDecodes.length > 0) this._scheduleDecode();'
export const PATCH_MARKER = 'rbee: release the context lock between batches'

/** The patched source, or undefined when it is not the code the patch was written for. */
export function patchBatchLoop(source: string): string | undefined {
  if ((source.match(ORIGINAL) ?? []).length !== 1) return undefined
  return source.replace(ORIGINAL, PATCHED)
}
