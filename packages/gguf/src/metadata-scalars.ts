import type { GgufValue } from './metadata-reader.js'

/** A metadata value as it can go on the wire: arrays and over-long strings become `null`. */
export type GgufScalarJson = string | number | boolean | null

/** Bounds of {@link scalarMetadata}. */
export interface ScalarMetadataLimits {
  /** Keys kept at most (the first ones in file order). */
  maxKeys: number
  /** A string longer than this (UTF-16 units) becomes `null`. */
  maxStringLength: number
  /** All strings kept together, at most (UTF-16 units); later ones become `null` once it is spent. */
  maxTotalStringLength: number
}

/** Room for every key of a real model, and for the longest chat templates (~40 KB) with margin. */
export const SCALAR_METADATA_LIMITS: Readonly<ScalarMetadataLimits> = Object.freeze({
  maxKeys: 4096,
  maxStringLength: 256 * 1024,
  maxTotalStringLength: 1024 * 1024,
})

/**
 * The metadata's scalar values, JSON-safe and bounded: 64-bit integers beyond a double's exact
 * range as decimal text, arrays as `null` (as Ollama's `model_info` sends them), strings past the
 * limits as `null`, keys past `maxKeys` left out.
 */
export function scalarMetadata(
  metadata: ReadonlyMap<string, GgufValue>,
  limits: ScalarMetadataLimits = SCALAR_METADATA_LIMITS,
): Record<string, GgufScalarJson> {
  const out: Record<string, GgufScalarJson> = {}
  let keys = 0
  let stringsLeft = limits.maxTotalStringLength
  for (const [key, value] of metadata) {
    if (keys++ >= limits.maxKeys) break
    if (typeof value === 'string') {
      const fits = value.length <= limits.maxStringLength && value.length <= stringsLeft
      if (fits) stringsLeft -= value.length
      out[key] = fits ? value : null
    } else if (typeof value === 'bigint') out[key] = value.toString()
    else if (typeof value === 'number' || typeof value === 'boolean')
      out[key] =
        Number.isNaN(value) || value === Number.POSITIVE_INFINITY || value === Number.NEGATIVE_INFINITY
          ? null
          : value
    else out[key] = null
  }
  return out
}
