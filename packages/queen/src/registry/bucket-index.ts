/** Buckets per doubling of the value: bucket edges grow by 2^(1/4), about 19% apart. */
const PER_DOUBLING = 4

function bucketOf(value: number): number {
  return value <= 0 ? 0 : 1 + Math.floor(Math.log2(value + 1) * PER_DOUBLING)
}

/**
 * Answers "which ids have a value of at least N" (free memory in MB) without looking at the
 * others: ids sit in logarithmic buckets, a query reads whole buckets above N and checks
 * values only in N's own bucket. Updates are O(1) and touch the buckets only when an id changes
 * bucket, which matters when thousands of values change every second.
 */
export class BucketIndex {
  readonly #value = new Map<string, number>()
  readonly #buckets: Array<Set<string> | undefined> = []

  get size(): number {
    return this.#value.size
  }

  get(id: string): number | undefined {
    return this.#value.get(id)
  }

  set(id: string, value: number): void {
    const old = this.#value.get(id)
    this.#value.set(id, value)
    const to = bucketOf(value)
    if (old !== undefined) {
      const from = bucketOf(old)
      if (from === to) return
      this.#buckets[from]?.delete(id)
    }
    let b = this.#buckets[to]
    if (!b) {
      b = new Set()
      this.#buckets[to] = b
    }
    b.add(id)
  }

  delete(id: string): void {
    const old = this.#value.get(id)
    if (old === undefined) return
    this.#value.delete(id)
    this.#buckets[bucketOf(old)]?.delete(id)
  }

  /** Ids whose value is at least `min`, largest buckets first. */
  atLeast(min: number): string[] {
    const out: string[] = []
    const first = bucketOf(min)
    for (let i = this.#buckets.length - 1; i > first; i--) {
      const b = this.#buckets[i]
      if (b) for (const id of b) out.push(id)
    }
    const edge = this.#buckets[first]
    if (edge) for (const id of edge) if (this.#value.get(id)! >= min) out.push(id)
    return out
  }
}
