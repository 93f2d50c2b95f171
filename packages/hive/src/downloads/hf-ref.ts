import { HfRefSchema } from '@rbee/contracts'

/** A parsed `hf:org/repo[:file.gguf]` reference. */
export interface HfRef {
  org: string
  repo: string
  /** The file inside the repo; undefined means "pick the best quantization". */
  file: string | undefined
}

/** True when `ref` names a Hugging Face model rather than a catalog id. */
export function isHfRef(ref: string): boolean {
  return ref.startsWith('hf:')
}

/**
 * Parses a Hugging Face reference (already validated by `ModelRefSchema` at the edge).
 * @throws ZodError when `ref` is not a well-formed `hf:` reference.
 */
export function parseHfRef(ref: string): HfRef {
  const valid = HfRefSchema.parse(ref)
  const body = valid.slice('hf:'.length)
  const slash = body.indexOf('/')
  const org = body.slice(0, slash)
  const rest = body.slice(slash + 1)
  const colon = rest.indexOf(':')
  return colon < 0
    ? { org, repo: rest, file: undefined }
    : { org, repo: rest.slice(0, colon), file: rest.slice(colon + 1) }
}

/** The canonical source string stored in the catalog: `hf:org/repo:file.gguf`. */
export function hfSource(ref: HfRef & { file: string }): string {
  return `hf:${ref.org}/${ref.repo}:${ref.file}`
}

/**
 * The catalog id of a downloaded file: its name without `.gguf` (and without sub-folders), which is
 * what people call a quantized model (`qwen2.5-0.5b-instruct-q4_k_m`). `taken` says whether an id
 * already belongs to another source; then the id is qualified with org and repo.
 */
export function hfModelId(ref: HfRef & { file: string }, taken: (id: string) => boolean): string {
  const stem = (ref.file.split('/').pop() ?? ref.file).replace(/\.gguf$/i, '')
  const clean = (s: string): string => s.replace(/[^A-Za-z0-9._:@-]/g, '-').replace(/\.{2,}/g, '.')
  const short = clean(stem).replace(/^[^A-Za-z0-9]+/, '') || 'model'
  if (!taken(short)) return short.slice(0, 128)
  return clean(`${ref.org}.${ref.repo}.${stem}`).slice(0, 128)
}
