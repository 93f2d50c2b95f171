import { GGUF_SCALAR_SIZE, GGUF_VALUE_TYPE, type GgufScalarType, ggufScalarType } from './gguf-constants.js'
import { HELD_BYTES, type HeaderParse } from './header-parse.js'

/**
 * A metadata value as read. 64-bit integers are numbers when they fit in a double exactly,
 * bigints otherwise.
 */
export type GgufScalarValue = number | bigint | boolean | string

/**
 * A metadata array the reader did not load: longer than `GgufLimits.maxInlineArrayLength` and
 * not asked for by key. Its elements were skipped (and, for strings, their lengths checked).
 */
export interface GgufArraySummary {
  readonly itemType: GgufScalarType
  readonly length: number
}

/**
 * A metadata value: a scalar, an array of scalars (GGUF allows no nested arrays in practice;
 * llama.cpp rejects them), or the summary of a long array that was skipped.
 */
export type GgufValue = GgufScalarValue | readonly GgufScalarValue[] | GgufArraySummary

/** The length of an array value, read or skipped; `undefined` for scalars and absent keys. */
export function arrayLength(value: GgufValue | undefined): number | undefined {
  if (Array.isArray(value)) return value.length
  if (typeof value === 'object') return (value as GgufArraySummary).length
  return undefined
}

const MAX_KEY_BYTES = 65_535

/**
 * Decodes the next value when all its bytes are already buffered, else returns `undefined` and
 * consumes nothing. Keeps the common case (a whole vocabulary inside one chunk) synchronous.
 */
function scalarNow(p: HeaderParse, type: GgufScalarType, key: string): GgufScalarValue | undefined {
  const { r } = p
  const size = GGUF_SCALAR_SIZE[type]
  if (!r.has(size)) return undefined
  switch (type) {
    case 'string': {
      const length = p.peekStringLength(p.limits.maxStringBytes, `string value of ${key}`)
      if (!r.has(8 + length)) return undefined
      p.hold(2 * length, `string value of ${key}`)
      r.u64()
      return r.utf8(length)
    }
    case 'uint8':
      return r.u8()
    case 'int8':
      return r.i8()
    case 'uint16':
      return r.u16()
    case 'int16':
      return r.i16()
    case 'uint32':
      return r.u32()
    case 'int32':
      return r.i32()
    case 'float32':
      return r.f32()
    case 'float64':
      return r.f64()
    case 'bool':
      // llama.cpp reads any non-zero byte as true
      return r.u8() !== 0
    case 'uint64':
    case 'int64': {
      const v = type === 'uint64' ? r.u64() : r.i64()
      const n = Number(v)
      return Number.isSafeInteger(n) ? n : v
    }
  }
}

async function scalar(p: HeaderParse, type: GgufScalarType, key: string): Promise<GgufScalarValue> {
  const now = scalarNow(p, type, key)
  if (now !== undefined) return now
  const { r } = p
  if (type === 'string') {
    p.within(8, `string value of ${key}`)
    if (!r.has(8)) await r.fill(8)
    const length = p.peekStringLength(p.limits.maxStringBytes, `string value of ${key}`)
    if (!r.has(8 + length)) await r.fill(8 + length)
  } else {
    p.within(GGUF_SCALAR_SIZE[type], key)
    await r.fill(GGUF_SCALAR_SIZE[type])
  }
  return scalarNow(p, type, key) ?? p.fail(`could not read ${key}`)
}

/** Moves past `length` strings, checking each length against the limits, the file and the section. */
async function skipStrings(p: HeaderParse, length: number, key: string): Promise<void> {
  const { r } = p
  for (let i = 0; i < length; i++) {
    if (!r.has(8)) {
      p.within(8, `string ${i} of ${key}`)
      await r.fill(8)
    }
    r.skip(8 + p.peekStringLength(p.limits.maxStringBytes, `string ${i} of ${key}`))
  }
}

async function array(p: HeaderParse, key: string, keep: boolean): Promise<GgufValue> {
  const { r, limits } = p
  p.within(12, key)
  if (!r.has(12)) await r.fill(12)
  const itemTypeId = r.u32()
  const itemType = ggufScalarType(itemTypeId)
  if (itemType === undefined) p.fail(`metadata ${key} is an array of unsupported type ${itemTypeId}`)
  const length = p.safe(r.u64(), `array length of ${key}`)
  if (length > limits.maxArrayLength) {
    p.fail(`array ${key} has ${length} elements, over the ${limits.maxArrayLength} limit`)
  }
  const size = GGUF_SCALAR_SIZE[itemType]
  p.fits(length, size, `array ${key} length`)
  if (!keep && length > limits.maxInlineArrayLength) {
    p.hold(HELD_BYTES.array, `array ${key}`)
    if (itemType === 'string') await skipStrings(p, length, key)
    else {
      p.within(length * size, `array ${key}`)
      r.skip(length * size)
    }
    return { itemType, length }
  }
  if (itemType !== 'string') p.within(length * size, `array ${key}`)
  const perItem =
    itemType === 'string'
      ? HELD_BYTES.string
      : itemType === 'uint64' || itemType === 'int64'
        ? HELD_BYTES.element64
        : HELD_BYTES.element
  p.hold(HELD_BYTES.array + length * perItem, `array ${key} of ${length} elements`)
  const items: GgufScalarValue[] = []
  for (let i = 0; i < length; i++) {
    items.push(scalarNow(p, itemType, key) ?? (await scalar(p, itemType, key)))
  }
  return items
}

/** Options of {@link readMetadata}. */
export interface ReadMetadataOptions {
  /** Key/value pairs the header declares. */
  count: number
  /** Keys of arrays to read whole whatever their length (still within the limits). */
  fullArrays: ReadonlySet<string>
}

/**
 * Reads the metadata section at the reader's position: at most `maxMetadataEntries` pairs within
 * `maxMetadataBytes`, long arrays skipped unless named in `fullArrays`.
 */
export async function readMetadata(
  p: HeaderParse,
  options: ReadMetadataOptions,
): Promise<Map<string, GgufValue>> {
  const { r, limits } = p
  if (options.count > limits.maxMetadataEntries) {
    p.fail(`metadata count ${options.count} is over the ${limits.maxMetadataEntries} limit`)
  }
  p.sectionEnd = r.pos + limits.maxMetadataBytes
  const metadata = new Map<string, GgufValue>()
  for (let i = 0; i < options.count; i++) {
    p.hold(HELD_BYTES.entry, `metadata entry ${i}`)
    const key = await p.string(MAX_KEY_BYTES, `key of metadata entry ${i}`)
    if (metadata.has(key)) p.fail(`metadata key ${key} appears twice`)
    p.within(4, key)
    if (!r.has(4)) await r.fill(4)
    const typeId = r.u32()
    const type = ggufScalarType(typeId)
    let value: GgufValue
    if (type !== undefined) value = await scalar(p, type, key)
    else if (typeId === GGUF_VALUE_TYPE.array) value = await array(p, key, options.fullArrays.has(key))
    else return p.fail(`metadata ${key} has unknown value type ${typeId}`)
    metadata.set(key, value)
  }
  p.sectionEnd = Number.POSITIVE_INFINITY
  return metadata
}
