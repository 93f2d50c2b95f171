import * as nodeModule from 'node:module'

/**
 * Installs the loader hooks that patch node-llama-cpp's batch loop (see batch-loop-patch.ts).
 * Must run before anything imports node-llama-cpp: the worker's entry point imports the engine
 * afterwards, dynamically. Returns false where node has no `module.register` (before 20.6): the
 * worker then runs unpatched and says so.
 */
export function registerLlamaPatch(): boolean {
  const register = (nodeModule as { register?: (specifier: string, parentURL: string) => void }).register
  if (typeof register !== 'function') return false
  register('./hooks.js', import.meta.url)
  return true
}
