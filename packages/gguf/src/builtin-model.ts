import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, rename, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { BUILTIN_MODEL_ID } from '@rbee/contracts'
import { type GgufDigest, type GgufFileInput, ggufDigest, writeGguf } from './gguf-writer.js'
import { describeLlamaModel, type LlamaModelSpec } from './model-generator.js'

/** The built-in test model: ~0.5 MB, F32, 2 layers of width 64, context 2048. Thousands of tokens/s on one core. */
export const TINY_MODEL_SPEC: Readonly<LlamaModelSpec> = Object.freeze({
  name: BUILTIN_MODEL_ID,
  seed: 0x7e57,
  contextLength: 2048,
  embeddingLength: 64,
  blockCount: 2,
  feedForwardLength: 128,
  headCount: 4,
  headCountKv: 2,
  weightType: 'F32',
})

/**
 * The benchmark model: ~48 MB, F16, 8 layers of width 512 (24M parameters), context 4096: a real
 * CPU workload (tens to a few hundred tokens/s on 2 cores) that still generates in a second or two.
 */
export const BENCH_MODEL_SPEC: Readonly<LlamaModelSpec> = Object.freeze({
  name: 'bench',
  seed: 0xbe7c,
  contextLength: 4096,
  embeddingLength: 512,
  blockCount: 8,
  feedForwardLength: 1408,
  headCount: 8,
  headCountKv: 4,
  weightType: 'F16',
})

/**
 * The heavier benchmark model: ~285 MB, F16, 12 layers of width 1024 (142M parameters). A token
 * costs several times what it costs on {@link BENCH_MODEL_SPEC}, closer to the models people run:
 * it shows how a fixed per-token cost weighs as the model grows (bench/RESULTS.md).
 */
export const BENCH_LARGE_MODEL_SPEC: Readonly<LlamaModelSpec> = Object.freeze({
  name: 'bench-large',
  seed: 0xbe7d,
  contextLength: 4096,
  embeddingLength: 1024,
  blockCount: 12,
  feedForwardLength: 2816,
  headCount: 16,
  headCountKv: 8,
  weightType: 'F16',
})

/**
 * The tiny reranking model (`describeRerankerModel`): the tiny model's shape as a Qwen3 with a
 * classification head, ~0.5 MB. For tests of `/v1/rerank`; never a built-in of the hive.
 */
export const TINY_RERANKER_SPEC: Readonly<LlamaModelSpec> = Object.freeze({
  ...TINY_MODEL_SPEC,
  name: 'tiny-rerank',
  seed: 0x7e58,
})

/** Builds a model's GGUF description from its spec (`describeLlamaModel`, `describeRerankerModel`). */
export type ModelDescriber = (spec: LlamaModelSpec) => GgufFileInput

const expectedDigests = new Map<string, GgufDigest>()

function expectedDigest(spec: LlamaModelSpec, describe: ModelDescriber): GgufDigest {
  const key = `${describe.name}:${JSON.stringify(spec)}`
  let digest = expectedDigests.get(key)
  if (digest === undefined) {
    digest = ggufDigest(describe(spec))
    expectedDigests.set(key, digest)
  }
  return digest
}

async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) hash.update(chunk)
  return hash.digest('hex')
}

async function isUpToDate(path: string, expected: GgufDigest): Promise<boolean> {
  try {
    const st = await stat(path)
    if (!st.isFile() || st.size !== expected.size) return false
  } catch (err) {
    if (err instanceof Error && 'code' in err && err.code === 'ENOENT') return false
    throw err
  }
  return (await fileSha256(path)) === expected.sha256
}

/**
 * Makes sure `<dir>/<spec.name>.gguf` holds exactly what the generator produces for `spec`, and
 * returns its path. The file is rewritten when missing or different (another spec, an older
 * generator, corruption); the write goes to a temporary file renamed into place, so concurrent
 * callers and readers never see a partial file. Checking costs one generation in memory-bounded
 * chunks (memoized per process) and one hash of the file.
 *
 * @param spec - @default TINY_MODEL_SPEC
 * @param describe - what kind of model the spec is for. @default describeLlamaModel
 * @throws RangeError for an invalid spec, or the file system's error.
 */
export async function ensureBuiltinModel(
  dir: string,
  spec: LlamaModelSpec = TINY_MODEL_SPEC,
  describe: ModelDescriber = describeLlamaModel,
): Promise<string> {
  const expected = expectedDigest(spec, describe)
  const path = join(dir, `${spec.name}.gguf`)
  if (await isUpToDate(path, expected)) return path
  await mkdir(dir, { recursive: true })
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
  try {
    const written = await writeGguf(tmp, describe(spec))
    if (written.sha256 !== expected.sha256) throw new Error(`generator for ${spec.name} is not deterministic`)
    await rename(tmp, path)
  } catch (err) {
    await unlink(tmp).catch(() => undefined)
    throw err
  }
  return path
}
