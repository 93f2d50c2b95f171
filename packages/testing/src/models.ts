import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DEFAULT_WORKER_CTX_SIZE, DEFAULT_WORKER_SLOTS } from '@rbee/contracts'
import {
  BENCH_LARGE_MODEL_SPEC,
  BENCH_MODEL_SPEC,
  describeLlamaModel,
  describeRerankerModel,
  ensureBuiltinModel,
  estimateWorkerMemoryMb,
  readGgufHeader,
  TINY_MODEL_SPEC,
  TINY_RERANKER_SPEC,
  writeGguf,
} from '@rbee/gguf'

/** Where generated test models are cached between test runs (they are deterministic). */
export const TEST_MODEL_DIR = process.env.RBEE_TEST_MODEL_DIR ?? join(tmpdir(), 'rbee-test-models')

/** The built-in tiny model (a few hundred KB, output is noise), generated once per machine. */
export function tinyModelPath(): Promise<string> {
  return ensureBuiltinModel(TEST_MODEL_DIR, TINY_MODEL_SPEC)
}

/**
 * What a hive estimates a worker of the tiny model needs (MB) with its default slots and context,
 * as its catalog lists it: what a test sizes a hive's `--cpu-memory-mb` by.
 */
export async function tinyWorkerMemoryMb(): Promise<number> {
  const header = await readGgufHeader(await tinyModelPath())
  const ctxSize = Math.min(DEFAULT_WORKER_CTX_SIZE, header.contextLength ?? DEFAULT_WORKER_CTX_SIZE)
  return estimateWorkerMemoryMb(header, { ctxSize, slots: DEFAULT_WORKER_SLOTS })
}

/** The tiny reranking model (a Qwen3 with a classification head; its scores are noise), for rerank tests. */
export function tinyRerankerModelPath(): Promise<string> {
  return ensureBuiltinModel(TEST_MODEL_DIR, TINY_RERANKER_SPEC, describeRerankerModel)
}

/** The larger generated model used by benchmarks. */
export function benchModelPath(): Promise<string> {
  return ensureBuiltinModel(TEST_MODEL_DIR, BENCH_MODEL_SPEC)
}

/** The heavier generated benchmark model (~285 MB), for `bench/worker/bench.mjs --model bench-large`. */
export function benchLargeModelPath(): Promise<string> {
  return ensureBuiltinModel(TEST_MODEL_DIR, BENCH_LARGE_MODEL_SPEC)
}

/**
 * Writes a model whose GGUF header is valid but that llama.cpp refuses to load (the tiny model
 * without its `output_norm.weight`): a worker spawned on it fails to start.
 */
export async function writeUnloadableModel(path: string): Promise<void> {
  const model = describeLlamaModel({ ...TINY_MODEL_SPEC, name: 'unloadable' })
  await writeGguf(path, { ...model, tensors: model.tensors.filter((t) => t.name !== 'output_norm.weight') })
}
