/**
 * Deterministic random values for property tests (what fast-check would give, kept small: this
 * workspace has no fast-check). The same seed gives the same cases on every run and machine, so a
 * failure names the seed and case that reproduce it.
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

export interface PropertyOptions {
  /** @default 1 */
  seed?: number
  /** Cases to try. @default 200 */
  runs?: number
  /** Stop starting new cases after this long (the test stays bounded on a slow machine). @default 10_000 */
  timeMs?: number
}

/**
 * Runs `check` on `runs` cases made by `generate` from one seeded sequence, one at a time, until
 * the runs or the time are used up. A failing case is rethrown with its seed, index and value.
 * @returns how many cases ran.
 */
export async function checkProperty<T>(
  options: PropertyOptions,
  generate: (rng: Rng, index: number) => T,
  check: (value: T, index: number) => void | Promise<void>,
): Promise<number> {
  const seed = options.seed ?? 1
  const rng = seededRng(seed)
  const until = Date.now() + (options.timeMs ?? 10_000)
  const runs = options.runs ?? 200
  let i = 0
  for (; i < runs && Date.now() < until; i++) {
    const value = generate(rng, i)
    try {
      await check(value, i)
    } catch (err) {
      throw new Error(`property failed at seed ${seed}, case ${i}: ${JSON.stringify(value)}`, { cause: err })
    }
  }
  return i
}
