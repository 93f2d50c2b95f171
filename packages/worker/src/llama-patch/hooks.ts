// Module loader hooks (node:module `register`), run on node's loader thread: rewrites
// node-llama-cpp's LlamaContext as it is loaded (see batch-loop-patch.ts).
import { PATCH_TARGET, patchBatchLoop } from './batch-loop-patch.js'

interface LoadResult {
  format?: string | null
  source?: string | ArrayBuffer | Uint8Array | null
  shortCircuit?: boolean
}

export async function load(
  url: string,
  context: unknown,
  nextLoad: (url: string, context: unknown) => Promise<LoadResult>,
): Promise<LoadResult> {
  const result = await nextLoad(url, context)
  if (!url.endsWith(PATCH_TARGET) || result.source == null) return result
  const text =
    typeof result.source === 'string'
      ? result.source
      : Buffer.from(result.source as Uint8Array).toString('utf8')
  const patched = patchBatchLoop(text)
  return patched === undefined ? result : { ...result, source: patched }
}
