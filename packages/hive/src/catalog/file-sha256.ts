import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'

/** The sha256 (lowercase hex) of a file, by path or open handle (left open), read in 1 MiB chunks. */
export async function fileSha256(file: string | FileHandle): Promise<string> {
  const hash = createHash('sha256')
  const highWaterMark = 1024 * 1024
  const stream =
    typeof file === 'string'
      ? createReadStream(file, { highWaterMark })
      : file.createReadStream({ start: 0, autoClose: false, highWaterMark })
  for await (const chunk of stream) hash.update(chunk as Buffer)
  return hash.digest('hex')
}
