import { RbeeError } from '@rbee/common'
import type { LlamaModel, LlamaRankingContext, Token } from 'node-llama-cpp'
import type { RankResult } from './engine.js'
import { type TokenizeFn, tokenizeInPieces } from './piecewise-tokenizer.js'
import type { PromptBudget } from './prompt-budget.js'

/** The ranking context is at most this many tokens: one query and one document together. */
const RANKING_CONTEXT = 2048
/**
 * One rerank request may have at most this many times a pair's room in tokens, all documents
 * together (about 131k tokens with the 2048-token context): pairs are scored one request at a
 * time, so a larger one would hold the others back.
 */
const RANK_REQUEST_PAIRS_WORTH = 64

/**
 * Why node-llama-cpp cannot rank with `model` (its `createRankingContext` checks, in words a user
 * can act on); undefined when it can.
 */
export function rankingUnsupportedReason(model: LlamaModel): string | undefined {
  const insights = model.fileInsights
  if (insights.supportsRanking) return undefined
  if (insights.hasEncoder && insights.hasDecoder) return 'encoder-decoder models cannot rank'
  const names = new Set((model.fileInfo.fullTensorInfo ?? []).map((t) => t.name))
  if (!names.has('cls.weight') && !names.has('cls.output.weight')) {
    return 'it has no classification head (a cls.weight or cls.output.weight tensor): load a reranker model, such as bge-reranker-v2-m3 or Qwen3-Reranker, in GGUF'
  }
  return 'it has a classification head but no separator or end-of-sequence token, and no tokenizer.chat_template.rerank with {query} and {document}'
}

export interface RankerOptions {
  model: LlamaModel
  /** node-llama-cpp's tokenizer (one native call), for tokenizing in pieces. */
  tokenize: TokenizeFn
  budget: PromptBudget
  /** The worker's context per slot; the ranking context is at most this. */
  contextSize: number
  /** llama.cpp compute threads; 0 = every core. */
  threads: number
}

/**
 * Scores documents against a query with the model's classification head, in one ranking context
 * (created at the first request) used by one request at a time. Inputs are checked by their bytes
 * before tokenizing, tokenized in pieces off the event loop, then checked by their tokens.
 */
export class Ranker {
  readonly #o: RankerOptions
  #context: Promise<LlamaRankingContext> | undefined
  #queue: Promise<unknown> = Promise.resolve()

  constructor(options: RankerOptions) {
    this.#o = options
  }

  /**
   * @throws RbeeError `RBEE_BAD_REQUEST` when the model cannot rank; `RBEE_PROMPT_TOO_LONG`
   *   naming the query or document that cannot fit; `RBEE_CANCELLED`.
   */
  async rank(query: string, documents: string[], signal: AbortSignal): Promise<RankResult> {
    const why = rankingUnsupportedReason(this.#o.model)
    if (why !== undefined) {
      throw new RbeeError('RBEE_BAD_REQUEST', `this model cannot rank documents: ${why}`, {
        details: { issues: [{ path: 'model', message: why }] },
      })
    }
    const { budget, tokenize } = this.#o
    const contextSize = Math.min(this.#o.contextSize, RANKING_CONTEXT)
    const room = {
      tokens: contextSize,
      name: `the ${contextSize} tokens a query and a document may have here`,
    }
    const totalTokens = contextSize * RANK_REQUEST_PAIRS_WORTH
    const total = { tokens: totalTokens, name: `the ${totalTokens} tokens one rerank request may have` }
    const docBytes = documents.map((d) => Buffer.byteLength(d))
    budget.checkBytes(Buffer.byteLength(query), 'the query', 'query', room)
    for (const [i, b] of docBytes.entries()) budget.checkBytes(b, `documents[${i}]`, `documents.${i}`, room)
    budget.checkBytes(
      docBytes.reduce((a, b) => a + b, 0),
      'the documents together',
      'documents',
      total,
    )
    const q = await tokenizeInPieces(tokenize, query, { maxTokens: contextSize, signal })
    budget.checkTokens(q.length, 'the query', 'query', room)
    const docs: Token[][] = []
    let sum = 0
    for (const d of documents) {
      const t = await tokenizeInPieces(tokenize, d, { maxTokens: contextSize, signal })
      sum += t.length
      budget.checkTokens(sum, 'the documents together', 'documents', total)
      docs.push(t)
    }
    const run = this.#queue.then(async () => {
      this.#context ??= this.#o.model.createRankingContext({ contextSize, threads: this.#o.threads })
      const ctx = await this.#context
      let tokens = 0
      const lengths = docs.map((d) => ctx.calculateInputLength(q, d))
      for (const [i, n] of lengths.entries()) {
        budget.checkTokens(n, `documents[${i}] with the query`, `documents.${i}`, room)
        tokens += n
      }
      const scores: number[] = []
      for (const d of docs) {
        if (signal.aborted) throw new RbeeError('RBEE_CANCELLED', 'request cancelled')
        scores.push(await ctx.rank(q, d))
      }
      return { scores, tokens }
    })
    this.#queue = run.catch(() => {})
    return run
  }

  async close(): Promise<void> {
    const context = this.#context
    if (context) await (await context.catch(() => undefined))?.dispose()
  }
}
