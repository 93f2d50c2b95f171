/**
 * Deterministic random values for generators of test inputs (hostile strings, the response
 * parser's property test under fast-check): the same seed gives the same values on every run and
 * machine, so a failure names the seed that reproduces it.
 */
export interface Rng {
  /** A float in [0, 1). */
  next(): number
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number
  /** True with probability `p`. */
  bool(p?: number): boolean
  pick<T>(items: readonly T[]): T
}

/** xorshift32 from `seed` (0 is taken as 1). */
export function seededRng(seed: number): Rng {
  let x = seed >>> 0 || 1
  const next = (): number => {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    return x / 4294967296
  }
  const int = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1))
  return {
    next,
    int,
    bool: (p = 0.5) => next() < p,
    pick: (items) => items[int(0, items.length - 1)]!,
  }
}
