import { MAX_MODEL_PARTS } from '@rbee/contracts'
import { parseSplitName, splitPartNames } from '@rbee/gguf'

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

function quantOf(file: string): number {
  const name = (file.split('/').pop() ?? file).toUpperCase()
  for (let i = 0; i < QUANTIZATION_PREFERENCE.length; i++) {
    const q = QUANTIZATION_PREFERENCE[i]!
    if (new RegExp(`(^|[^A-Z0-9])${q}([^A-Z0-9]|$)`).test(name.replace(/\.GGUF$/, ''))) return i
  }
  return QUANTIZATION_PREFERENCE.length
}

/**
 * The models a repo's file list offers, best quantization first (then the shortest name: the
 * plain variant over `-imatrix` and such): whole `.gguf` files, and split models by their first
 * part (`-00001-of-00003.gguf`) when every part is listed and there are at most `MAX_MODEL_PARTS`. Vision projectors (`mmproj`), later
 * parts and incomplete splits are not models.
 */
export function ggufCandidates(files: readonly string[]): string[] {
  const listed = new Set(files)
  return files
    .filter((f) => {
      if (!/\.gguf$/i.test(f) || /mmproj/i.test(f)) return false
      const split = parseSplitName(f)
      if (!split) return true
      // More parts than a catalog entry may hold: not a model (and not 99 999 names to build).
      if (split.index !== 1 || split.count > MAX_MODEL_PARTS) return false
      return (splitPartNames(f) ?? []).every((p) => listed.has(p))
    })
    .map((f) => ({ f, rank: quantOf(f) }))
    .sort((a, b) => a.rank - b.rank || a.f.length - b.f.length || a.f.localeCompare(b.f))
    .map((c) => c.f)
}

/** The best quantization by name alone ({@link ggufCandidates}); undefined when the repo has no usable GGUF model. */
export function pickGgufFile(files: readonly string[]): string | undefined {
  return ggufCandidates(files)[0]
}

/** A candidate model with its size (all parts) and the memory a worker of it would need. */
export interface SizedCandidate {
  file: string
  sizeBytes: number
  estimateMb: number
}

/** What {@link chooseBySize} picked and why, in words. */
export interface SizeChoice {
  file: string
  fits: boolean
  why: string
}

/**
 * Picks the largest model (more bits per weight: better answers) whose memory estimate fits
 * `freeMb`, the free memory of the device it will run on; among equal sizes the better name
 * (`candidates` come in {@link ggufCandidates} order). When none fits, the smallest, saying so.
 * @throws RangeError for an empty list.
 */
export function chooseBySize(
  candidates: readonly SizedCandidate[],
  freeMb: number,
  where: string,
): SizeChoice {
  if (candidates.length === 0) throw new RangeError('no candidates')
  const mb = (c: SizedCandidate): string => `${c.file} needs ~${c.estimateMb} MiB`
  const fitting = candidates.filter((c) => c.estimateMb <= freeMb)
  if (fitting.length === 0) {
    const smallest = candidates.reduce((a, b) => (b.sizeBytes < a.sizeBytes ? b : a))
    return {
      file: smallest.file,
      fits: false,
      why: `none of the ${candidates.length} quantizations fits the ${freeMb} MiB free on ${where}; took the smallest (${mb(smallest)})`,
    }
  }
  const best = fitting.reduce((a, b) => (b.sizeBytes > a.sizeBytes ? b : a))
  const larger = candidates
    .filter((c) => c.sizeBytes > best.sizeBytes)
    .sort((a, b) => a.sizeBytes - b.sizeBytes)[0]
  return {
    file: best.file,
    fits: true,
    why: `the largest of ${candidates.length} quantizations that fits the ${freeMb} MiB free on ${where} (${mb(best)}${larger ? `; ${mb(larger)}` : ''})`,
  }
}
