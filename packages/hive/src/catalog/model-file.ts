import { constants } from 'node:fs'
import { type FileHandle, open } from 'node:fs/promises'
import { RbeeError } from '@rbee/common'

/**
 * Opens a model file for reading without ever waiting on it: `O_NONBLOCK`, so a FIFO does not
 * block a thread until a writer comes, and `fstat` before any read, so only a regular file is
 * used (a FIFO, device, socket or directory is refused before a byte is read).
 * @throws RbeeError `RBEE_MODEL_NOT_FOUND` when the file does not exist, `RBEE_MODEL_INVALID`
 *   when it is not a regular file; the file system's error otherwise.
 */
export async function openModelFile(path: string): Promise<FileHandle> {
  let handle: FileHandle
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT')
      throw new RbeeError('RBEE_MODEL_NOT_FOUND', `no such file: ${path}`, { cause: err })
    // Opening a unix socket fails with ENXIO.
    if (code === 'ENXIO') throw notRegular(path, err)
    throw err
  }
  try {
    if (!(await handle.stat()).isFile()) throw notRegular(path)
    return handle
  } catch (err) {
    await handle.close()
    throw err
  }
}

function notRegular(path: string, cause?: unknown): RbeeError {
  return new RbeeError(
    'RBEE_MODEL_INVALID',
    `${path} is not a regular file (a directory, FIFO, device or socket cannot be a model)`,
    { cause },
  )
}
