import { RerankRequestSchema, RerankResponseSchema } from './rerank.js'
import { contractTable, type Invalid, type Valid } from './test-support/contract-table.js'

const valid: Valid[] = [
  [
    "a request in Jina's shape",
    RerankRequestSchema,
    { model: 'bge-reranker', query: 'bees', documents: ['honey', 'cars'], top_n: 1, return_documents: false },
  ],
  [
    "documents as Cohere's { text } objects",
    RerankRequestSchema,
    { model: 'm', query: 'q', documents: [{ text: 'a' }] },
  ],
  [
    'an answer',
    RerankResponseSchema,
    {
      id: 'rerank-1',
      object: 'list',
      model: 'm',
      results: [
        { index: 1, relevance_score: 0.9, document: { text: 'cars' } },
        { index: 0, relevance_score: 0.1 },
      ],
      usage: { prompt_tokens: 12, total_tokens: 12 },
    },
  ],
]

const invalid: Invalid[] = [
  [
    "TEI's texts field",
    RerankRequestSchema,
    { model: 'm', query: 'q', documents: ['a'], texts: ['a'] },
    'texts',
  ],
  [
    "Cohere's max_tokens_per_doc",
    RerankRequestSchema,
    { model: 'm', query: 'q', documents: ['a'], max_tokens_per_doc: 9 },
    'max_tokens_per_doc',
  ],
  ['no documents', RerankRequestSchema, { model: 'm', query: 'q', documents: [] }, 'documents'],
  ['a top_n of 0', RerankRequestSchema, { model: 'm', query: 'q', documents: ['a'], top_n: 0 }, 'top_n'],
  ['an empty query', RerankRequestSchema, { model: 'm', query: '', documents: ['a'] }, 'query'],
]

contractTable('rerank contracts', valid, invalid)
