import { createHash } from 'node:crypto'
import { constants } from 'node:fs'
import { type FileHandle, open } from 'node:fs/promises'

/**
 * The sha256 (lowercase hex) of a file, by path or open handle (left open), read in 1 MiB chunks.
 * A path is opened non-blocking: a file swapped for a FIFO fails instead of stalling a thread.
 */
export async function fileSha256(file: string | FileHandle): Promise<string> {
  if (typeof file === 'string') {
    const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK)
    try {
      return await fileSha256(handle)
    } finally {
      await handle.close()
    }
  }
  const hash = createHash('sha256')
  for await (const chunk of file.createReadStream({ start: 0, autoClose: false, highWaterMark: 1024 * 1024 }))
    hash.update(chunk as Buffer)
  return hash.digest('hex')
}
