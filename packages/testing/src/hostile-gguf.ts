import { open } from 'node:fs/promises'

// Hostile GGUF files: well-formed enough that a trusting reader accepts them, built to cost it
// memory or time. Written by hand because they declare what the writer would have to hold in
// memory; the bulk is sparse (holes), so a "416 MiB" file takes a few kilobytes of disk.

const GGUF_MAGIC = 0x46554747
const TYPE_UINT8 = 0
const TYPE_STRING = 8
const TYPE_ARRAY = 9
const GGML_F32 = 0

class Bytes {
  readonly parts: Buffer[] = []
  u32(v: number): this {
    const b = Buffer.alloc(4)
    b.writeUInt32LE(v)
    this.parts.push(b)
    return this
  }
  u64(v: number): this {
    const b = Buffer.alloc(8)
    b.writeBigUInt64LE(BigInt(v))
    this.parts.push(b)
    return this
  }
  string(s: string): this {
    const b = Buffer.from(s)
    return this.u64(b.length).raw(b)
  }
  raw(b: Buffer): this {
    this.parts.push(b)
    return this
  }
  done(): Buffer {
    return Buffer.concat(this.parts)
  }
}

function preamble(tensorCount: number, kvCount: number): Bytes {
  return new Bytes()
    .u32(GGUF_MAGIC)
    .u32(3)
    .u64(tensorCount)
    .u64(kvCount)
    .string('general.architecture')
    .u32(TYPE_STRING)
    .string('llama')
}

/**
 * A GGUF v3 file whose metadata holds `arrays` arrays of `arrayLength` uint8 (zeros, as holes).
 * Issue 14's file was 26 arrays of 16 Mi elements: 416 MiB that a reader holding every element
 * as a JavaScript number turns into gigabytes of heap.
 * @returns the file's size in bytes
 */
export async function writeBloatedGguf(
  path: string,
  { arrays, arrayLength }: { arrays: number; arrayLength: number },
): Promise<number> {
  const handle = await open(path, 'w')
  try {
    let at = 0
    const put = async (b: Buffer): Promise<void> => {
      await handle.write(b, 0, b.length, at)
      at += b.length
    }
    await put(preamble(0, 1 + arrays).done())
    for (let i = 0; i < arrays; i++) {
      await put(new Bytes().string(`junk.${i}`).u32(TYPE_ARRAY).u32(TYPE_UINT8).u64(arrayLength).done())
      at += arrayLength
    }
    const size = Math.ceil(at / 32) * 32
    await handle.truncate(size)
    return size
  } finally {
    await handle.close()
  }
}

/**
 * A GGUF v3 file with `count` one-element F32 tensors that all share one 32-byte data block:
 * issue 14's million-tensor file was 39 MB and cost a trusting reader 620 MB of heap.
 * @returns the file's size in bytes
 */
export async function writeTensorFloodGguf(path: string, count: number): Promise<number> {
  const b = preamble(count, 1)
  for (let i = 0; i < count; i++) b.string(`t.${i}`).u32(1).u64(1).u32(GGML_F32).u64(0)
  const header = b.done()
  const dataOffset = Math.ceil(header.length / 32) * 32
  const handle = await open(path, 'w')
  try {
    await handle.write(header, 0, header.length, 0)
    await handle.truncate(dataOffset + 32)
  } finally {
    await handle.close()
  }
  return dataOffset + 32
}
