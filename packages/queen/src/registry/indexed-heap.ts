/**
 * A binary min-heap that knows where each item sits, so an item whose key changed can be moved
 * (`update`) or taken out (`delete`) in O(log n), and the best item read (`peek`) in O(1).
 */
export class IndexedHeap<T> {
  readonly #items: T[] = []
  readonly #pos = new Map<T, number>()
  readonly #before: (a: T, b: T) => boolean

  /** @param before - true when `a` must come out before `b`. */
  constructor(before: (a: T, b: T) => boolean) {
    this.#before = before
  }

  get size(): number {
    return this.#items.length
  }

  has(item: T): boolean {
    return this.#pos.has(item)
  }

  peek(): T | undefined {
    return this.#items[0]
  }

  /** Adds the item, or re-positions it if it is already in. */
  push(item: T): void {
    const at = this.#pos.get(item)
    if (at !== undefined) {
      this.#fix(at)
      return
    }
    this.#items.push(item)
    this.#pos.set(item, this.#items.length - 1)
    this.#up(this.#items.length - 1)
  }

  /** Re-positions an item after its key changed; no-op if absent. */
  update(item: T): void {
    const at = this.#pos.get(item)
    if (at !== undefined) this.#fix(at)
  }

  delete(item: T): boolean {
    const at = this.#pos.get(item)
    if (at === undefined) return false
    const last = this.#items.pop()!
    this.#pos.delete(item)
    if (at < this.#items.length) {
      this.#items[at] = last
      this.#pos.set(last, at)
      this.#fix(at)
    }
    return true
  }

  /** Items in heap order (not sorted), for diagnostics. */
  values(): readonly T[] {
    return this.#items
  }

  #fix(i: number): void {
    if (!this.#up(i)) this.#down(i)
  }

  #swap(i: number, j: number): void {
    const a = this.#items[i]!
    const b = this.#items[j]!
    this.#items[i] = b
    this.#items[j] = a
    this.#pos.set(b, i)
    this.#pos.set(a, j)
  }

  #up(i: number): boolean {
    let moved = false
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!this.#before(this.#items[i]!, this.#items[parent]!)) break
      this.#swap(i, parent)
      i = parent
      moved = true
    }
    return moved
  }

  #down(i: number): void {
    const n = this.#items.length
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let best = i
      if (l < n && this.#before(this.#items[l]!, this.#items[best]!)) best = l
      if (r < n && this.#before(this.#items[r]!, this.#items[best]!)) best = r
      if (best === i) return
      this.#swap(i, best)
      i = best
    }
  }
}
