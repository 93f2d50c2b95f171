import { RbeeError } from '@rbee/common'
import type { LlamaModel, Token } from 'node-llama-cpp'

/**
 * Vocabularies that never drop input: byte-level BPE and SentencePiece map every input byte to
 * some token (byte fallback included), so a token never stands for more input than its own text.
 * WordPiece and Unigram normalise their input (a BERT vocabulary turns 1 MB of spaces into no
 * token at all), so for them no byte count proves that a text cannot fit.
 */
const BYTE_EXACT_VOCABULARIES = new Set<string>(['spm', 'bpe'])

/**
 * The most input bytes one token of `model` can stand for: the longest token text in its
 * vocabulary (special tokens included), plus one for the leading space llama.cpp drops when it
 * detokenizes a token on its own. Undefined for vocabularies that can drop input.
 * Measured: 13 for the tiny test model, 27 for Llama 2's vocabulary, 129 for Llama 3's and
 * Qwen 2's (a run of 128 spaces is one token); scanning 152k tokens takes ~0.25 s, once at load.
 */
export function maxTokenBytes(model: LlamaModel): number | undefined {
  if (!BYTE_EXACT_VOCABULARIES.has(model.vocabularyType)) return undefined
  const size = model.fileInfo.metadata.tokenizer?.ggml?.tokens?.length ?? 0
  if (size === 0) return undefined
  let max = 0
  for (let t = 0; t < size; t++) max = Math.max(max, Buffer.byteLength(model.detokenize([t as Token], true)))
  return max + 1
}

/** A number of tokens and how a message names it ("this worker's context of 2048 tokens"). */
export interface TokenLimit {
  tokens: number
  name: string
}

function tooLong(message: string, param: string): RbeeError {
  return new RbeeError('RBEE_PROMPT_TOO_LONG', message, {
    details: { issues: [{ path: param, message: 'does not fit the context' }] },
  })
}

/**
 * What a worker's context can hold, and the checks that refuse a text that cannot fit: by its
 * byte length before any tokenizing (a token stands for at most `maxTokenBytes` bytes, so more
 * than `tokens × maxTokenBytes` bytes cannot fit), then by its token count.
 */
export class PromptBudget {
  constructor(
    /** Tokens of context one request may use. */
    readonly contextTokens: number,
    readonly maxTokenBytes: number | undefined,
  ) {}

  /**
   * @throws RbeeError `RBEE_PROMPT_TOO_LONG` (400) when `bytes` cannot fit `limit.tokens` tokens.
   * @param what - names the text in the message ("the prompt", "input[2]").
   * @param param - the request field, for OpenAI's `param`.
   */
  checkBytes(bytes: number, what: string, param: string, limit = this.#context): void {
    if (this.maxTokenBytes === undefined) return
    const max = limit.tokens * this.maxTokenBytes
    if (bytes <= max) return
    throw tooLong(
      `${what} is ${bytes} bytes and cannot fit ${limit.name} (a token of this model stands for at most ${this.maxTokenBytes} bytes, so at most ${max} bytes fit)`,
      param,
    )
  }

  /** @throws RbeeError `RBEE_PROMPT_TOO_LONG` (400) when `count` tokens leave no room in `limit`. */
  checkTokens(count: number, what: string, param: string, limit = this.#context): void {
    if (count < limit.tokens) return
    throw tooLong(`${what} is ${count} tokens or more and cannot fit ${limit.name}`, param)
  }

  get #context(): TokenLimit {
    return { tokens: this.contextTokens, name: `this worker's context of ${this.contextTokens} tokens` }
  }
}
