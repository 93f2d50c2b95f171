import { randomBytes } from 'node:crypto'
import { mkdir, readdir, rename, rm } from 'node:fs/promises'
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
  writeSplitGguf,
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

/**
 * The tiny model split in `parts` files as `llama-gguf-split` writes them
 * (`tiny-split-00001-of-0000N.gguf`…, the first with all metadata), generated once per machine
 * into a directory of their own. Returns the parts' paths in order; llama.cpp loads the first.
 */
export async function tinySplitModelPaths(parts = 2): Promise<string[]> {
  const dir = join(TEST_MODEL_DIR, `tiny-split-${parts}`)
  const existing = await readdir(dir).catch(() => [] as string[])
  const names = existing.filter((n) => n.endsWith('.gguf')).sort()
  if (names.length !== parts) {
    // Written aside and renamed into place whole, so a concurrent test never sees some parts.
    const tmp = `${dir}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
    await mkdir(tmp, { recursive: true })
    await writeSplitGguf(
      tmp,
      'tiny-split',
      describeLlamaModel({ ...TINY_MODEL_SPEC, name: 'tiny-split' }),
      parts,
    )
    await rm(dir, { recursive: true, force: true })
    await rename(tmp, dir).catch(async (err: unknown) => {
      await rm(tmp, { recursive: true, force: true })
      if (
        (err as NodeJS.ErrnoException).code !== 'ENOTEMPTY' &&
        (err as NodeJS.ErrnoException).code !== 'EEXIST'
      )
        throw err
    })
    return tinySplitModelPaths(parts)
  }
  return names.map((n) => join(dir, n))
}
