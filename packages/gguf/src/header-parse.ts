import type { ChunkedReader } from './chunked-reader.js'
import type { GgufLimits } from './gguf-limits.js'

/** Throws the caller's GgufFormatError with `problem`. */
export type Fail = (problem: string) => never

/**
 * Estimated bytes a parsed value holds in V8 (64-bit, no pointer compression, as Node ships):
 * an object or string header, a pointer to it, and for arrays the worst element representation.
 */
export const HELD_BYTES = {
  /** A string's header and the pointer to it; its characters count 2 bytes per UTF-8 byte. */
  string: 40,
  /** A metadata map entry: its hash table slot, and the headers of its key and of a scalar value. */
  entry: 128,
  /** An array object, or the type-and-length summary of a skipped one. */
  array: 64,
  /** An array element that is a number or boolean (a pointer plus a heap number at worst). */
  element: 24,
  /** An array element that is a 64-bit integer (a pointer plus a BigInt at worst). */
  element64: 40,
  /** A tensor description without its name: the object, its dims array, type and figures. */
  tensor: 320,
} as const

function mib(bytes: number): string {
  return `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MiB`
}

/** What every step of one header parse shares: the reader, the limits and the running totals. */
export class HeaderParse {
  /** Estimated bytes the parsed values hold so far. */
  held = 0
  /** Absolute offset the current section may not pass (the metadata byte limit, then the file end). */
  sectionEnd = Number.POSITIVE_INFINITY

  constructor(
    readonly r: ChunkedReader,
    readonly limits: GgufLimits,
    readonly fail: Fail,
  ) {}

  /** Counts `bytes` against the memory limit before they are allocated. */
  hold(bytes: number, what: string): void {
    this.held += bytes
    if (this.held > this.limits.maxHeaderMemoryBytes) {
      this.fail(
        `${what} would take the parsed header past its ${mib(this.limits.maxHeaderMemoryBytes)} memory limit`,
      )
    }
  }

  /** Fails unless `bytes` from the current position stay inside the file and the current section. */
  within(bytes: number, what: string): void {
    const { r } = this
    if (bytes > r.remaining()) {
      this.fail(`truncated: ${what} of ${bytes} bytes at offset ${r.pos} runs past the end`)
    }
    if (r.pos + bytes > this.sectionEnd) {
      this.fail(`${what} runs past the ${mib(this.limits.maxMetadataBytes)} limit on metadata`)
    }
  }

  /** Fails unless `count` items of at least `minBytes` each can fit in what is left of the file. */
  fits(count: number, minBytes: number, what: string): void {
    const { r } = this
    if (count * minBytes > r.remaining()) {
      this.fail(
        `${what} ${count} cannot fit in the ${r.remaining()} bytes left after offset ${r.pos} (truncated or corrupt)`,
      )
    }
  }

  /** A uint64 from the file as a number; fails when it is beyond 2^53. */
  safe(v: bigint, what: string): number {
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`${what} ${v} is absurdly large`)
    return Number(v)
  }

  /**
   * Length of the string whose 8-byte prefix is buffered at the current position, checked
   * against `maxBytes`, the file and the section.
   */
  peekStringLength(maxBytes: number, what: string): number {
    const length = this.safe(this.r.peekU64(), `${what} length`)
    if (length > maxBytes) this.fail(`${what} length ${length} exceeds the ${maxBytes}-byte limit`)
    this.within(8 + length, what)
    return length
  }

  /** Reads a length-prefixed string, counting it against the memory limit first. */
  async string(maxBytes: number, what: string): Promise<string> {
    const { r } = this
    if (!r.has(8)) await r.fill(8)
    const length = this.peekStringLength(maxBytes, what)
    this.hold(HELD_BYTES.string + 2 * length, what)
    if (!r.has(8 + length)) await r.fill(8 + length)
    r.u64()
    return r.utf8(length)
  }
}
