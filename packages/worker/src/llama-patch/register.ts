import { register } from 'node:module'

/**
 * Installs the loader hooks that patch node-llama-cpp's batch loop (see batch-loop-patch.ts).
 * Must run before anything imports node-llama-cpp: the worker's entry point imports the engine
 * afterwards, dynamically.
 */
export function registerLlamaPatch(): void {
  register('./hooks.js', import.meta.url)
}
