const MiB = 1024 * 1024

/**
 * How much of a GGUF header the reader accepts. A header is untrusted input (a file someone asked
 * a hive to import, a download), so every count and length is checked against these before
 * anything is allocated for it: a hostile header costs at most about `maxHeaderMemoryBytes` of
 * memory and the time it takes to walk `maxMetadataBytes`, whatever it declares.
 */
export interface GgufLimits {
  /** Bytes the metadata section (every key/value pair, as stored) may span. */
  maxMetadataBytes: number
  /** Key/value pairs in the metadata. */
  maxMetadataEntries: number
  /** Elements in one metadata array, read or skipped. */
  maxArrayLength: number
  /** Bytes of one string value (keys and tensor names have their own, smaller, limits). */
  maxStringBytes: number
  /** Tensors in the file. */
  maxTensorCount: number
  /**
   * Metadata arrays longer than this are not read into memory: the header keeps their element
   * type and length only ({@link GgufArraySummary}), unless the caller asks for them by key.
   */
  maxInlineArrayLength: number
  /**
   * Memory the parsed header may hold, as the reader estimates it before allocating: keys,
   * strings (2 bytes per UTF-8 byte, the worst case of a JavaScript string), the arrays it
   * keeps, and tensor descriptions.
   */
  maxHeaderMemoryBytes: number
}

/**
 * The limits rbee reads GGUF headers with. Real models stay far below every one: the largest
 * metadata sections (a 262k-token vocabulary with scores and types, a 280k-entry merge list, a
 * whole `tokenizer.huggingface.json`) take 10–30 MiB, vocabularies reach ~262k entries, and the
 * biggest mixture-of-experts files hold a few thousand tensors (older per-expert layouts ~15k).
 */
export const GGUF_LIMITS: Readonly<GgufLimits> = Object.freeze({
  maxMetadataBytes: 64 * MiB,
  maxMetadataEntries: 65_536,
  maxArrayLength: 4 * MiB,
  maxStringBytes: 16 * MiB,
  maxTensorCount: 65_536,
  maxInlineArrayLength: 1024,
  maxHeaderMemoryBytes: 64 * MiB,
})

/**
 * `GGUF_LIMITS` with `overrides` applied.
 * @throws RangeError when a limit is not a positive safe integer.
 */
export function resolveGgufLimits(overrides: Partial<GgufLimits> = {}): GgufLimits {
  const limits = { ...GGUF_LIMITS, ...overrides }
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`GGUF limit ${name} must be a positive integer, got ${String(value)}`)
    }
  }
  return limits
}
