/** "GGUF" read as a little-endian uint32. */
export const GGUF_MAGIC = 0x46554747
/** The GGUF version the writer produces. */
export const GGUF_VERSION = 3
/** Alignment of tensor data when a file has no `general.alignment`, and what the writer uses. */
export const GGUF_DEFAULT_ALIGNMENT = 32

/** On-disk ids of GGUF metadata value types. */
export const GGUF_VALUE_TYPE = {
  uint8: 0,
  int8: 1,
  uint16: 2,
  int16: 3,
  uint32: 4,
  int32: 5,
  float32: 6,
  bool: 7,
  string: 8,
  array: 9,
  uint64: 10,
  int64: 11,
  float64: 12,
} as const

/** A GGUF metadata value type that is not an array. */
export type GgufScalarType = Exclude<keyof typeof GGUF_VALUE_TYPE, 'array'>

/** The JavaScript value the writer takes for each scalar type. */
export interface GgufScalarValueMap {
  uint8: number
  int8: number
  uint16: number
  int16: number
  uint32: number
  int32: number
  float32: number
  float64: number
  uint64: bigint
  int64: bigint
  bool: boolean
  string: string
}

/** Bytes that a value of each fixed-size scalar type takes on disk (strings: their length prefix). */
export const GGUF_SCALAR_SIZE: Readonly<Record<GgufScalarType, number>> = {
  uint8: 1,
  int8: 1,
  uint16: 2,
  int16: 2,
  uint32: 4,
  int32: 4,
  float32: 4,
  bool: 1,
  string: 8,
  uint64: 8,
  int64: 8,
  float64: 8,
}

const scalarTypeById = new Map<number, GgufScalarType>(
  (Object.keys(GGUF_SCALAR_SIZE) as GgufScalarType[]).map((t) => [GGUF_VALUE_TYPE[t], t]),
)

/** The scalar type for an on-disk id, or `undefined` (arrays and unknown ids). */
export function ggufScalarType(id: number): GgufScalarType | undefined {
  return scalarTypeById.get(id)
}
