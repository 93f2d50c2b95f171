/** `tokenizer.ggml.token_type` values (llama.cpp's `llama_token_attr` ancestors). */
export const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const

/** A SentencePiece-style (`tokenizer.ggml.model = "llama"`) vocabulary. */
export interface LlamaVocab {
  tokens: readonly string[]
  scores: readonly number[]
  types: readonly number[]
  /**
   * Whether sampling the token can only add printable ASCII (0x20–0x7E) to the output. Everything
   * else (control, unknown and byte tokens) is made unsampleable by the generated model.
   */
  sampleable: readonly boolean[]
  unkId: number
  bosId: number
  eosId: number
  padId: number
  imStartId: number
  imEndId: number
}

/** U+2581, which SentencePiece vocabularies use for a space. */
export const SPM_SPACE = '\u2581'

/**
 * A few common English merges, in priority order. Each is the concatenation of two tokens that
 * exist (single characters or an earlier merge), as SPM's bigram merging requires.
 */
const MERGES = [
  `${SPM_SPACE}t`,
  'he',
  `${SPM_SPACE}a`,
  'in',
  `${SPM_SPACE}th`,
  'er',
  'on',
  're',
  `${SPM_SPACE}the`,
  'an',
  'at',
  'en',
  'nd',
  `${SPM_SPACE}s`,
  `${SPM_SPACE}o`,
  `${SPM_SPACE}w`,
  'is',
  'ou',
  'or',
  'es',
  'ing',
  `${SPM_SPACE}c`,
  `${SPM_SPACE}i`,
  'ed',
  `${SPM_SPACE}to`,
  `${SPM_SPACE}of`,
  `${SPM_SPACE}and`,
  `${SPM_SPACE}in`,
  'it',
  `${SPM_SPACE}b`,
  'ar',
  'll',
  `${SPM_SPACE}is`,
  `${SPM_SPACE}f`,
  `${SPM_SPACE}m`,
  `${SPM_SPACE}p`,
  `${SPM_SPACE}he`,
  'ion',
  `${SPM_SPACE}it`,
  `${SPM_SPACE}be`,
] as const

/**
 * Builds the generator's vocabulary: `<unk>`, `<s>`, `</s>`, `<|im_start|>`, `<|im_end|>`, the 256
 * byte tokens `<0x00>`…`<0xFF>` (so any text tokenizes, by byte fallback), `▁`, the printable ASCII
 * characters 0x21–0x7E, then {@link MERGES}.
 */
export function buildLlamaVocab(): LlamaVocab {
  const tokens: string[] = []
  const scores: number[] = []
  const types: number[] = []
  const sampleable: boolean[] = []
  const add = (text: string, type: number, score = 0): number => {
    tokens.push(text)
    types.push(type)
    scores.push(score)
    sampleable.push(type === TOKEN_TYPE.normal)
    return tokens.length - 1
  }
  const unkId = add('<unk>', TOKEN_TYPE.unknown)
  const bosId = add('<s>', TOKEN_TYPE.control)
  const eosId = add('</s>', TOKEN_TYPE.control)
  const imStartId = add('<|im_start|>', TOKEN_TYPE.control)
  const imEndId = add('<|im_end|>', TOKEN_TYPE.control)
  for (let b = 0; b < 256; b++) add(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, TOKEN_TYPE.byte)
  // single characters never win a merge on score; only the merged token's score ranks a bigram
  add(SPM_SPACE, TOKEN_TYPE.normal, -1000)
  for (let c = 0x21; c <= 0x7e; c++) add(String.fromCharCode(c), TOKEN_TYPE.normal, -1000)
  const known = new Set(tokens)
  MERGES.forEach((merge, i) => {
    const splittable = [...merge].some(
      (_, k) => k > 0 && known.has(merge.slice(0, k)) && known.has(merge.slice(k)),
    )
    if (!splittable || known.has(merge))
      throw new Error(`merge ${merge} cannot be formed from existing tokens`)
    add(merge, TOKEN_TYPE.normal, -1 - i)
    known.add(merge)
  })
  return { tokens, scores, types, sampleable, unkId, bosId, eosId, padId: unkId, imStartId, imEndId }
}
