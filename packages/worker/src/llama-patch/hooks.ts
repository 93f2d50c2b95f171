// Module loader hooks (node:module `register`), run on node's loader thread: rewrites
// node-llama-cpp's LlamaContext (see batch-loop-patch.ts) and its JSON-schema grammar's node
// builder (see json-terminal-patch.ts) as they are loaded.
import { PATCH_TARGET, patchBatchLoop } from './batch-loop-patch.js'
import { JSON_TERMINAL_TARGET, patchJsonTerminal } from './json-terminal-patch.js'

const PATCHES: ReadonlyArray<readonly [string, (source: string) => string | undefined]> = [
  [PATCH_TARGET, patchBatchLoop],
  [JSON_TERMINAL_TARGET, patchJsonTerminal],
]

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
  const patch = PATCHES.find(([target]) => url.endsWith(target))?.[1]
  if (patch === undefined || result.source == null) return result
  const text =
    typeof result.source === 'string'
      ? result.source
      : Buffer.from(result.source as Uint8Array).toString('utf8')
  const patched = patch(text)
  return patched === undefined ? result : { ...result, source: patched }
}
