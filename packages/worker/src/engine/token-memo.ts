import type { LlamaModel, LlamaText, Token, Tokenizer } from 'node-llama-cpp'
import { nextTurn, tokenizeInPieces } from './piecewise-tokenizer.js'

interface Entry {
  special: boolean
  options: 'trimLeadingSpace' | undefined
  tokens: Token[]
  holders: number
}

/** One tokenizer call `LlamaText.tokenize` makes: plain text or special-token text. */
interface Call {
  text: string
  special: boolean
  options: 'trimLeadingSpace' | undefined
}

export interface HeldTokens {
  /** How many tokens the text is (or more than `maxTokens`, when it stopped early). */
  count: number
  /** Lets go of the kept tokens; call it once node-llama-cpp has used them. Idempotent. */
  release: () => void
}

/**
 * Tokenizations done ahead of node-llama-cpp, in pieces that give the event loop a turn each,
 * and found by node-llama-cpp's own synchronous calls instead of tokenizing again.
 *
 * Why: `LlamaChat` tokenizes a whole chat in one native call on the event loop (a 7.6 MB chat
 * held `/health` for 9.6 s), and takes no tokens instead of text. So the chat is first tokenized
 * here, as `LlamaText.tokenize` would call the tokenizer, and `install()` puts a tokenizer on the
 * model that answers those exact calls from what is held. A call not held (another text, a later
 * context shift) is tokenized as before: correct, only not in pieces.
 */
export class TokenMemo {
  readonly #held = new Map<string, Entry[]>()
  readonly #original: Tokenizer

  /** Installs the memo on `model`: its `tokenize` and `tokenizer` answer from the memo first. */
  static install(model: LlamaModel): TokenMemo {
    const memo = new TokenMemo(model.tokenizer)
    const tokenize = Object.assign(
      ((text: string, special?: boolean | 'builtin', options?: 'trimLeadingSpace') =>
        (special === 'builtin' ? undefined : memo.#find(text, special === true, options)) ??
        memo.#original(text as never, special as never, options as never)) as Tokenizer,
      {
        detokenize: memo.#original.detokenize,
        isSpecialToken: memo.#original.isSpecialToken,
        isEogToken: memo.#original.isEogToken,
      },
    )
    // node-llama-cpp declares both read-only but sets them as plain fields; every caller inside
    // it goes through one of the two (LlamaText.tokenize, LlamaChat, LlamaCompletion).
    Object.defineProperty(model, 'tokenize', { value: tokenize })
    Object.defineProperty(model, 'tokenizer', { value: tokenize })
    return memo
  }

  private constructor(original: Tokenizer) {
    this.#original = original
  }

  /** Texts held now (for tests: nothing is held once every request has released). */
  get size(): number {
    return this.#held.size
  }

  #find(text: string, special: boolean, options: 'trimLeadingSpace' | undefined): Token[] | undefined {
    const e = this.#held.get(text)?.find((x) => x.special === special && x.options === options)
    return e?.tokens.slice()
  }

  #hold(call: Call, tokens: Token[]): () => void {
    const list = this.#held.get(call.text) ?? []
    let e = list.find((x) => x.special === call.special && x.options === call.options)
    if (!e) {
      e = { special: call.special, options: call.options, tokens, holders: 0 }
      list.push(e)
      this.#held.set(call.text, list)
    }
    e.holders++
    const entry = e
    return () => {
      if (--entry.holders > 0) return
      list.splice(list.indexOf(entry), 1)
      if (list.length === 0) this.#held.delete(call.text)
    }
  }

  /**
   * Tokenizes `text` the way `text.tokenize(model.tokenizer)` does, plain text in pieces and a
   * turn of the event loop between calls, and holds the result until `release()`. Stops early
   * once the count passes `maxTokens`.
   */
  async hold(text: LlamaText, o: { maxTokens: number; signal?: AbortSignal }): Promise<HeldTokens> {
    const calls: Call[] = []
    let count = 0
    // The calls LlamaText.tokenize makes, in order. The placeholder keeps its "has content"
    // logic (which picks `trimLeadingSpace`) as it is with real tokens: any non-empty text.
    text.tokenize(
      Object.assign(
        (t: string, special?: boolean | 'builtin', options?: 'trimLeadingSpace') => {
          if (special === 'builtin') {
            // BOS and the like: one token, no text to tokenize.
            const tokens = this.#original(t as never, 'builtin')
            count += tokens.length
            return tokens
          }
          calls.push({ text: t, special: special === true, options })
          return t === '' ? [] : [0 as Token]
        },
        {
          detokenize: this.#original.detokenize,
          isSpecialToken: this.#original.isSpecialToken,
          isEogToken: this.#original.isEogToken,
        },
      ) as Tokenizer,
    )
    const releases: Array<() => void> = []
    const release = (): void => {
      for (const r of releases.splice(0)) r()
    }
    try {
      for (const call of calls) {
        let tokens: Token[]
        if (call.special) {
          // The template's own short texts; still a turn each, a chat can have many messages.
          await nextTurn()
          o.signal?.throwIfAborted()
          tokens = this.#original(call.text, true, call.options)
        } else {
          tokens = await tokenizeInPieces(this.#original, call.text, {
            options: call.options,
            maxTokens: o.maxTokens - count,
            signal: o.signal,
          })
        }
        count += tokens.length
        // Past the limit the text is refused; a cut-short tokenization is never held.
        if (count > o.maxTokens) break
        releases.push(this.#hold(call, tokens))
      }
    } catch (err) {
      release()
      throw err
    }
    return { count, release }
  }
}
