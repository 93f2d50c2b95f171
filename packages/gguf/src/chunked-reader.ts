/** Positional reads (`pread`): a `FileHandle`, or a descriptor wrapped by {@link fdSource}. */
export interface ReadSource {
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>
}

/**
 * Sequential little-endian reads from a file through one reusable buffer. Callers check `has(n)`
 * and `await fill(n)` only when it is false, so the many small reads of a GGUF header stay
 * synchronous and one `read(2)` serves a whole chunk.
 */
export class ChunkedReader {
  /** Absolute file offset of the next byte to read. */
  pos = 0
  private buf: Buffer
  private bufStart = 0
  private bufEnd = 0

  /**
   * @param fail - called with a problem description; must throw
   */
  constructor(
    private readonly source: ReadSource,
    readonly size: number,
    private readonly chunkSize: number,
    private readonly fail: (problem: string) => never,
  ) {
    this.buf = Buffer.alloc(Math.min(chunkSize, Math.max(size, 1)))
  }

  /** Bytes left in the file after `pos`. */
  remaining(): number {
    return this.size - this.pos
  }

  /** Whether the next `n` bytes are already buffered. */
  has(n: number): boolean {
    return this.pos + n <= this.bufEnd && this.pos >= this.bufStart
  }

  /** Buffers the next `n` bytes (and up to a chunk more); fails when the file ends first. */
  async fill(n: number): Promise<void> {
    if (n > this.remaining()) {
      this.fail(`truncated: needs ${n} bytes at offset ${this.pos} but the file has ${this.size} bytes`)
    }
    const want = Math.min(Math.max(n, this.chunkSize), this.remaining())
    if (this.buf.length < want) this.buf = Buffer.alloc(want)
    let filled = 0
    while (filled < want) {
      const { bytesRead } = await this.source.read(this.buf, filled, want - filled, this.pos + filled)
      // the file shrank while we read it
      if (bytesRead === 0) this.fail(`truncated: read ended at offset ${this.pos + filled}`)
      filled += bytesRead
    }
    this.bufStart = this.pos
    this.bufEnd = this.pos + want
  }

  /** Moves past the next `n` bytes without reading them; fails when the file ends first. */
  skip(n: number): void {
    if (n > this.remaining()) {
      this.fail(`truncated: needs ${n} bytes at offset ${this.pos} but the file has ${this.size} bytes`)
    }
    this.pos += n
  }

  private at(n: number): number {
    const i = this.pos - this.bufStart
    this.pos += n
    return i
  }

  u8(): number {
    return this.buf.readUInt8(this.at(1))
  }
  i8(): number {
    return this.buf.readInt8(this.at(1))
  }
  u16(): number {
    return this.buf.readUInt16LE(this.at(2))
  }
  i16(): number {
    return this.buf.readInt16LE(this.at(2))
  }
  u32(): number {
    return this.buf.readUInt32LE(this.at(4))
  }
  i32(): number {
    return this.buf.readInt32LE(this.at(4))
  }
  f32(): number {
    return this.buf.readFloatLE(this.at(4))
  }
  f64(): number {
    return this.buf.readDoubleLE(this.at(8))
  }
  /** The next 8 buffered bytes as a uint64, without consuming them. */
  peekU64(): bigint {
    return this.buf.readBigUInt64LE(this.pos - this.bufStart)
  }
  u64(): bigint {
    return this.buf.readBigUInt64LE(this.at(8))
  }
  i64(): bigint {
    return this.buf.readBigInt64LE(this.at(8))
  }
  /** Decodes the next `n` buffered bytes as UTF-8 (invalid sequences become U+FFFD, as llama.cpp keeps them). */
  utf8(n: number): string {
    const i = this.at(n)
    return this.buf.toString('utf8', i, i + n)
  }
}
