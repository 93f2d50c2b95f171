const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)

/**
 * IEEE 754 binary16 bits of `value`, rounded to nearest-even (as numpy and ggml do).
 * Overflow gives ±Infinity, NaN stays NaN. Node 20 has no `Float16Array`, hence this.
 */
export function float32ToFloat16Bits(value: number): number {
  f32[0] = value
  const x = u32[0] ?? 0
  const sign = (x >>> 16) & 0x8000
  const exp = (x >>> 23) & 0xff
  const mant = x & 0x7fffff
  if (exp === 0xff) return sign | 0x7c00 | (mant === 0 ? 0 : 0x200)
  const e = exp - 127 + 15
  if (e >= 0x1f) return sign | 0x7c00
  if (e <= 0) {
    if (e < -10) return sign
    // subnormal half: shift the 24-bit significand (implicit bit included) into 10 bits
    const full = mant | 0x800000
    const shift = 14 - e
    let h = full >>> shift
    const rem = full & ((1 << shift) - 1)
    const half = 1 << (shift - 1)
    if (rem > half || (rem === half && (h & 1) === 1)) h++
    return sign | h
  }
  let h = (e << 10) | (mant >>> 13)
  const rem = mant & 0x1fff
  // a carry out of the mantissa correctly bumps the exponent, up to 0x7c00 (Infinity)
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h++
  return sign | h
}

/** The number that binary16 `bits` encode. */
export function float16BitsToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1
  const exp = (bits >>> 10) & 0x1f
  const mant = bits & 0x3ff
  if (exp === 0) return sign * mant * 2 ** -24
  if (exp === 0x1f) return mant === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN
  return sign * (1 + mant / 1024) * 2 ** (exp - 15)
}
