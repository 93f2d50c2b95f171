export {
  BENCH_LARGE_MODEL_SPEC,
  BENCH_MODEL_SPEC,
  ensureBuiltinModel,
  type ModelDescriber,
  TINY_MODEL_SPEC,
  TINY_RERANKER_SPEC,
} from './builtin-model.js'
export type { ReadSource } from './chunked-reader.js'
export { GGML_TYPES, type GgmlTypeName } from './ggml-types.js'
export type { GgufScalarType, GgufScalarValueMap } from './gguf-constants.js'
export { GgufFormatError } from './gguf-format-error.js'
export { GGUF_LIMITS, type GgufLimits } from './gguf-limits.js'
export {
  type GgufArraySummary,
  type GgufHeader,
  type GgufScalarValue,
  type GgufTensorInfo,
  type GgufValue,
  type ReadGgufHeaderOptions,
  readGgufHeader,
  readGgufHeaderFrom,
} from './gguf-reader.js'
export {
  encodeGguf,
  type GgufDigest,
  type GgufFileInput,
  type GgufMetadataEntry,
  type GgufTensorData,
  type GgufTensorInput,
  ggufChunks,
  ggufDigest,
  writeGguf,
} from './gguf-writer.js'
export {
  type GgufHeaderFacts,
  GgufHeaderPool,
  type GgufHeaderPoolOptions,
  type PoolReadOptions,
} from './header-pool.js'
export {
  estimateWorkerMemoryMb,
  type MemoryEstimateInput,
  WORKER_RUNTIME_OVERHEAD_MB,
  type WorkerMemoryOptions,
} from './memory-estimate.js'
export {
  type GgufScalarJson,
  SCALAR_METADATA_LIMITS,
  type ScalarMetadataLimits,
  scalarMetadata,
} from './metadata-scalars.js'
export {
  CHAT_TEMPLATE,
  describeLlamaModel,
  generateLlamaModel,
  type LlamaModelSpec,
  writeLlamaModel,
} from './model-generator.js'
export { describeRerankerModel } from './reranker-model.js'
export {
  MAX_SPLIT_PARTS,
  parseSplitName,
  SPLIT_KEYS,
  type SplitName,
  splitGguf,
  splitPartName,
  splitPartNames,
  writeSplitGguf,
} from './split-model.js'
