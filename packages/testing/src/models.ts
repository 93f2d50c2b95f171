import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BENCH_LARGE_MODEL_SPEC, BENCH_MODEL_SPEC, ensureBuiltinModel, TINY_MODEL_SPEC } from '@rbee/gguf'

/** Where generated test models are cached between test runs (they are deterministic). */
export const TEST_MODEL_DIR = process.env.RBEE_TEST_MODEL_DIR ?? join(tmpdir(), 'rbee-test-models')

/** The built-in tiny model (a few hundred KB, output is noise), generated once per machine. */
export function tinyModelPath(): Promise<string> {
  return ensureBuiltinModel(TEST_MODEL_DIR, TINY_MODEL_SPEC)
}

/** The larger generated model used by benchmarks. */
export function benchModelPath(): Promise<string> {
  return ensureBuiltinModel(TEST_MODEL_DIR, BENCH_MODEL_SPEC)
}

/** The heavier generated benchmark model (~285 MB), for `bench/worker/bench.mjs --model bench-large`. */
export function benchLargeModelPath(): Promise<string> {
  return ensureBuiltinModel(TEST_MODEL_DIR, BENCH_LARGE_MODEL_SPEC)
}
