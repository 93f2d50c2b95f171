/**
 * Quantizations in order of preference when a repo is named without a file: Q4_K_M is the usual
 * best size/quality trade-off, then a bit more quality, then the widely supported legacy and 8-bit
 * ones, then the rest from larger to smaller, and full precision last.
 */
export const QUANTIZATION_PREFERENCE = [
  'Q4_K_M',
  'Q5_K_M',
  'Q4_0',
  'Q8_0',
  'Q4_K_S',
  'Q5_K_S',
  'Q6_K',
  'Q5_0',
  'IQ4_XS',
  'IQ4_NL',
  'Q3_K_L',
  'Q3_K_M',
  'Q3_K_S',
  'Q2_K',
  'F16',
  'BF16',
  'F32',
] as const

const SHARD = /-\d{5}-of-\d{5}\.gguf$/i

function quantOf(file: string): number {
  const name = (file.split('/').pop() ?? file).toUpperCase()
  for (let i = 0; i < QUANTIZATION_PREFERENCE.length; i++) {
    const q = QUANTIZATION_PREFERENCE[i]!
    if (new RegExp(`(^|[^A-Z0-9])${q}([^A-Z0-9]|$)`).test(name.replace(/\.GGUF$/, ''))) return i
  }
  return QUANTIZATION_PREFERENCE.length
}

/**
 * Picks the file to download from a repo's file list: `.gguf` files only, without split shards
 * (`-00001-of-00003.gguf`, one shard is not a model) or vision projectors (`mmproj`), best
 * quantization first, then the shortest name (the plain variant over `-imatrix` and such).
 * Returns undefined when the repo has no usable GGUF file.
 */
export function pickGgufFile(files: readonly string[]): string | undefined {
  const candidates = files.filter((f) => /\.gguf$/i.test(f) && !SHARD.test(f) && !/mmproj/i.test(f))
  return candidates
    .map((f) => ({ f, rank: quantOf(f) }))
    .sort((a, b) => a.rank - b.rank || a.f.length - b.f.length || a.f.localeCompare(b.f))[0]?.f
}
