import { stat } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { RbeeError } from '@rbee/common'
import { MAX_MODEL_PARTS } from '@rbee/contracts'
import { parseSplitName, splitPartNames } from '@rbee/gguf'

/**
 * Refuses a split model of more parts than a catalog entry may have, from its name alone (before
 * a part is listed, probed or read).
 * @throws RbeeError `RBEE_BAD_REQUEST` naming `model` when `file` says more than
 *   `MAX_MODEL_PARTS` parts.
 */
export function checkPartCount(file: string, model: string): void {
  const count = parseSplitName(basename(file))?.count ?? 1
  if (count > MAX_MODEL_PARTS) {
    throw new RbeeError(
      'RBEE_BAD_REQUEST',
      `${model} is split into ${count} parts; a model may have at most ${MAX_MODEL_PARTS}`,
    )
  }
}

/**
 * The files of the model whose (first) file is `path`: the path itself, or for the first part of
 * a split model (`name-00001-of-00003.gguf`, llama.cpp's naming) every part, side by side in its
 * directory, in order. llama.cpp loads the first and finds the others by these names.
 */
export function modelPartPaths(path: string): string[] {
  checkPartCount(path, path)
  const names = splitPartNames(basename(path))
  if (!names || parseSplitName(basename(path))?.index !== 1) return [path]
  return names.map((n) => join(dirname(path), n))
}

/** True when `file` (a name or path) is a part of a split model other than the first. */
export function isLaterSplitPart(file: string): boolean {
  const s = parseSplitName(basename(file))
  return s !== undefined && s.index > 1
}

/**
 * Bytes of all the model's files ({@link modelPartPaths}), and the first file's mtime.
 * @throws the file system's error (ENOENT names the missing part), or an Error for a part that
 *   is not a regular file.
 */
export async function modelFilesStat(path: string): Promise<{ size: number; mtimeMs: number }> {
  let size = 0
  let mtimeMs = 0
  for (const [i, p] of modelPartPaths(path).entries()) {
    const st = await stat(p)
    if (!st.isFile()) throw new Error(`${p} is not a file`)
    size += st.size
    if (i === 0) mtimeMs = st.mtimeMs
  }
  return { size, mtimeMs }
}
