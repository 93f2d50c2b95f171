/**
 * ggml tensor element types as stored in GGUF tensor infos, with their block layout.
 * Ids and sizes match ggml (checked against the llama.cpp build shipped with node-llama-cpp 3.21.1).
 * Ids that ggml has retired (4, 5, 31–33, 36–38) are absent on purpose: llama.cpp refuses them.
 */
export const GGML_TYPES = {
  F32: { id: 0, blockSize: 1, typeSize: 4 },
  F16: { id: 1, blockSize: 1, typeSize: 2 },
  Q4_0: { id: 2, blockSize: 32, typeSize: 18 },
  Q4_1: { id: 3, blockSize: 32, typeSize: 20 },
  Q5_0: { id: 6, blockSize: 32, typeSize: 22 },
  Q5_1: { id: 7, blockSize: 32, typeSize: 24 },
  Q8_0: { id: 8, blockSize: 32, typeSize: 34 },
  Q8_1: { id: 9, blockSize: 32, typeSize: 36 },
  Q2_K: { id: 10, blockSize: 256, typeSize: 84 },
  Q3_K: { id: 11, blockSize: 256, typeSize: 110 },
  Q4_K: { id: 12, blockSize: 256, typeSize: 144 },
  Q5_K: { id: 13, blockSize: 256, typeSize: 176 },
  Q6_K: { id: 14, blockSize: 256, typeSize: 210 },
  Q8_K: { id: 15, blockSize: 256, typeSize: 292 },
  IQ2_XXS: { id: 16, blockSize: 256, typeSize: 66 },
  IQ2_XS: { id: 17, blockSize: 256, typeSize: 74 },
  IQ3_XXS: { id: 18, blockSize: 256, typeSize: 98 },
  IQ1_S: { id: 19, blockSize: 256, typeSize: 50 },
  IQ4_NL: { id: 20, blockSize: 32, typeSize: 18 },
  IQ3_S: { id: 21, blockSize: 256, typeSize: 110 },
  IQ2_S: { id: 22, blockSize: 256, typeSize: 82 },
  IQ4_XS: { id: 23, blockSize: 256, typeSize: 136 },
  I8: { id: 24, blockSize: 1, typeSize: 1 },
  I16: { id: 25, blockSize: 1, typeSize: 2 },
  I32: { id: 26, blockSize: 1, typeSize: 4 },
  I64: { id: 27, blockSize: 1, typeSize: 8 },
  F64: { id: 28, blockSize: 1, typeSize: 8 },
  IQ1_M: { id: 29, blockSize: 256, typeSize: 56 },
  BF16: { id: 30, blockSize: 1, typeSize: 2 },
  TQ1_0: { id: 34, blockSize: 256, typeSize: 54 },
  TQ2_0: { id: 35, blockSize: 256, typeSize: 66 },
  MXFP4: { id: 39, blockSize: 32, typeSize: 17 },
  NVFP4: { id: 40, blockSize: 64, typeSize: 36 },
  Q1_0: { id: 41, blockSize: 128, typeSize: 18 },
  Q2_0: { id: 42, blockSize: 64, typeSize: 18 },
} as const satisfies Record<string, { id: number; blockSize: number; typeSize: number }>

/** Name of a ggml tensor type, e.g. `'F16'` or `'Q4_K'`. */
export type GgmlTypeName = keyof typeof GGML_TYPES

const namesById = new Map<number, GgmlTypeName>(
  (Object.keys(GGML_TYPES) as GgmlTypeName[]).map((name) => [GGML_TYPES[name].id, name]),
)

/** The type name for a ggml type id, or `undefined` for an id ggml does not (or no longer) support. */
export function ggmlTypeName(id: number): GgmlTypeName | undefined {
  return namesById.get(id)
}

/**
 * Bytes that `elementCount` elements of `type` occupy. Returns `undefined` when the count is not
 * a whole number of blocks (such a tensor is invalid).
 */
export function ggmlByteSize(type: GgmlTypeName, elementCount: number): number | undefined {
  const { blockSize, typeSize } = GGML_TYPES[type]
  if (elementCount % blockSize !== 0) return undefined
  return (elementCount / blockSize) * typeSize
}

/**
 * `general.file_type` values (llama.cpp's `llama_ftype`) and the quantization name users know them by.
 * Retired values (4–6, 33–35) are absent.
 */
const FILE_TYPE_NAMES: ReadonlyMap<number, string> = new Map([
  [0, 'F32'],
  [1, 'F16'],
  [2, 'Q4_0'],
  [3, 'Q4_1'],
  [7, 'Q8_0'],
  [8, 'Q5_0'],
  [9, 'Q5_1'],
  [10, 'Q2_K'],
  [11, 'Q3_K_S'],
  [12, 'Q3_K_M'],
  [13, 'Q3_K_L'],
  [14, 'Q4_K_S'],
  [15, 'Q4_K_M'],
  [16, 'Q5_K_S'],
  [17, 'Q5_K_M'],
  [18, 'Q6_K'],
  [19, 'IQ2_XXS'],
  [20, 'IQ2_XS'],
  [21, 'Q2_K_S'],
  [22, 'IQ3_XS'],
  [23, 'IQ3_XXS'],
  [24, 'IQ1_S'],
  [25, 'IQ4_NL'],
  [26, 'IQ3_S'],
  [27, 'IQ3_M'],
  [28, 'IQ2_S'],
  [29, 'IQ2_M'],
  [30, 'IQ4_XS'],
  [31, 'IQ1_M'],
  [32, 'BF16'],
  [36, 'TQ1_0'],
  [37, 'TQ2_0'],
  [38, 'MXFP4_MOE'],
  [39, 'NVFP4'],
  [40, 'Q1_0'],
  [41, 'Q2_0'],
])

/** The quantization name for a `general.file_type` value, or `undefined` for an unknown value. */
export function fileTypeName(fileType: number): string | undefined {
  return FILE_TYPE_NAMES.get(fileType)
}

/** `general.file_type` values the model generator writes. */
export const FILE_TYPE_ALL_F32 = 0
/** `general.file_type` for models whose matrices are F16 (norm vectors stay F32). */
export const FILE_TYPE_MOSTLY_F16 = 1
