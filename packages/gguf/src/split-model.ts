import { join } from 'node:path'
import type { GgufDigest, GgufFileInput, GgufMetadataEntry } from './gguf-writer.js'
import { writeGguf } from './gguf-writer.js'

/** Metadata keys of llama.cpp's split format (`gguf-split`), with the types llama.cpp checks. */
export const SPLIT_KEYS = {
  /** uint16, 0-based index of this part. */
  no: 'split.no',
  /** uint16, how many parts the model has. */
  count: 'split.count',
  /** int32, tensors in all parts together. */
  tensorsCount: 'split.tensors.count',
} as const

/** The most parts llama.cpp's naming can count (`-00001-of-99999`). */
export const MAX_SPLIT_PARTS = 99_999

const SPLIT_NAME = /^(.+)-(\d{5})-of-(\d{5})\.gguf$/i

/** A part of a split model, as its file name says: `prefix-00002-of-00003.gguf`. */
export interface SplitName {
  /** The name before `-0000k-of-0000n.gguf` (may include directories). */
  prefix: string
  /** 1-based, as in the name. */
  index: number
  count: number
}

/** Reads a split part's name (`model-00001-of-00003.gguf`); undefined for any other name. */
export function parseSplitName(file: string): SplitName | undefined {
  const m = SPLIT_NAME.exec(file)
  if (!m) return undefined
  const index = Number(m[2])
  const count = Number(m[3])
  if (index < 1 || count < 1 || index > count) return undefined
  return { prefix: m[1]!, index, count }
}

/** The name llama.cpp looks for part `index` (1-based) of `count` under (`llama_split_path`). */
export function splitPartName(prefix: string, index: number, count: number): string {
  const pad = (n: number): string => String(n).padStart(5, '0')
  return `${prefix}-${pad(index)}-of-${pad(count)}.gguf`
}

/** Every part's name, in order, of the split model whose part `file` is. */
export function splitPartNames(file: string): string[] | undefined {
  const s = parseSplitName(file)
  if (!s) return undefined
  return Array.from({ length: s.count }, (_, i) => splitPartName(s.prefix, i + 1, s.count))
}

/**
 * Splits a model the way `llama-gguf-split --split` does: the tensors in order, in `parts`
 * contiguous groups (as equal in count as can be); the first part carries all the metadata, the
 * others only the split keys. llama.cpp loads the first part and finds the others beside it by
 * name ({@link splitPartName}).
 * @throws RangeError when `parts` is not 2 … the tensor count.
 */
export function splitGguf(file: GgufFileInput, parts: number): GgufFileInput[] {
  const n = file.tensors.length
  if (!Number.isInteger(parts) || parts < 2 || parts > Math.min(n, MAX_SPLIT_PARTS)) {
    throw new RangeError(`parts must be 2 … ${Math.min(n, MAX_SPLIT_PARTS)}, got ${parts}`)
  }
  const keys = (no: number): GgufMetadataEntry[] => [
    { key: SPLIT_KEYS.no, type: 'uint16', value: no },
    { key: SPLIT_KEYS.count, type: 'uint16', value: parts },
    { key: SPLIT_KEYS.tensorsCount, type: 'int32', value: n },
  ]
  return Array.from({ length: parts }, (_, i) => ({
    metadata: i === 0 ? [...file.metadata, ...keys(0)] : keys(i),
    tensors: file.tensors.slice(Math.floor((i * n) / parts), Math.floor(((i + 1) * n) / parts)),
  }))
}

/**
 * Writes `file` as `parts` files `<dir>/<prefix>-0000k-of-0000n.gguf` ({@link splitGguf}).
 * @returns each part's path and digest, in order.
 */
export async function writeSplitGguf(
  dir: string,
  prefix: string,
  file: GgufFileInput,
  parts: number,
): Promise<Array<GgufDigest & { path: string }>> {
  const out: Array<GgufDigest & { path: string }> = []
  for (const [i, part] of splitGguf(file, parts).entries()) {
    const path = join(dir, splitPartName(prefix, i + 1, parts))
    out.push({ path, ...(await writeGguf(path, part)) })
  }
  return out
}
