import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  keepAliveMs,
  OllamaEmbeddingsRequestSchema,
  OllamaEmbedRequestSchema,
  OllamaErrorSchema,
  OllamaKeepAliveSchema,
  OllamaProgressSchema,
  OllamaPullRequestSchema,
  OllamaShowRequestSchema,
  OllamaTagsSchema,
} from './ollama.js'
import { contractTable, type Invalid, type Valid } from './test-support/contract-table.js'

// What the `ollama` npm client (0.6.x) puts on the wire: `pull` sends `name` (not `model`),
// `stream` and an `insecure` that JSON drops when unset.
const CLIENT_PULL_BODY = '{"name":"hf.co/rbee/tiny-rerank-GGUF","stream":true}'
const CLIENT_EMBED_BODY =
  '{"model":"tiny","input":["a","b"],"truncate":true,"keep_alive":"1h","options":{"num_ctx":512}}'

const details = {
  parent_model: '',
  format: 'gguf',
  family: 'llama',
  families: ['llama'],
  parameter_size: '125K',
  quantization_level: 'F32',
}

const valid: Valid[] = [
  ['an embed request as the ollama client sends it', OllamaEmbedRequestSchema, JSON.parse(CLIENT_EMBED_BODY)],
  [
    'an embed request with one input and dimensions',
    OllamaEmbedRequestSchema,
    { model: 'tiny', input: 'a', dimensions: 8 },
  ],
  [
    'an older embeddings request',
    OllamaEmbeddingsRequestSchema,
    { model: 'tiny', prompt: 'a', keep_alive: -1 },
  ],
  ['a pull request as the ollama client sends it', OllamaPullRequestSchema, JSON.parse(CLIENT_PULL_BODY)],
  [
    'a pull request with rbee hive_id',
    OllamaPullRequestSchema,
    { model: 'hf:org/repo', stream: false, hive_id: 'h1' },
  ],
  ['a show request', OllamaShowRequestSchema, { model: 'tiny:latest' }],
  [
    'a progress line',
    OllamaProgressSchema,
    { status: 'downloading sha256:ab', digest: 'sha256:ab', total: 10, completed: 3 },
  ],
  [
    'an error with rbee code',
    OllamaErrorSchema,
    { error: "model 'x' not found", code: 'RBEE_MODEL_NOT_FOUND' },
  ],
  [
    'a tags answer',
    OllamaTagsSchema,
    {
      models: [
        {
          name: 'tiny',
          model: 'tiny',
          modified_at: '2026-11-27T10:00:00.000Z',
          size: 509536,
          digest: 'ab',
          details,
        },
      ],
    },
  ],
]

const invalid: Invalid[] = [
  ['an unknown field', OllamaEmbedRequestSchema, { model: 'tiny', input: 'a', think: true }, 'think'],
  [
    'an unknown option',
    OllamaEmbedRequestSchema,
    { model: 'tiny', input: 'a', options: { nope: 1 } },
    'options.nope',
  ],
  [
    'a keep_alive that is no duration',
    OllamaEmbedRequestSchema,
    { model: 'tiny', input: 'a', keep_alive: 'soon' },
    'keep_alive',
  ],
  [
    'a pull that asks to skip TLS checks',
    OllamaPullRequestSchema,
    { model: 'hf:o/r', insecure: true },
    'insecure',
  ],
  ['a pull without a model', OllamaPullRequestSchema, { stream: true }, '(body)'],
  ['a show with a system prompt to apply', OllamaShowRequestSchema, { model: 'tiny', system: 'x' }, 'system'],
  ['a verbose show', OllamaShowRequestSchema, { model: 'tiny', verbose: true }, 'verbose'],
]

contractTable('Ollama contracts', valid, invalid)

test('keep_alive reads as Ollama reads it: seconds, Go durations, negative for ever, 0 for now', () => {
  const ms = (v: unknown): number => keepAliveMs(OllamaKeepAliveSchema.parse(v))
  assert.equal(ms(300), 300_000)
  assert.equal(ms('300'), 300_000)
  assert.equal(ms('5m'), 300_000)
  assert.equal(ms('1h30m'), 5_400_000)
  assert.equal(ms('1.5s'), 1500)
  assert.equal(ms('250ms'), 250)
  assert.equal(ms(0), 0)
  assert.equal(ms('0'), 0)
  assert.equal(ms(-1), Number.POSITIVE_INFINITY)
  assert.equal(ms('-1m'), Number.POSITIVE_INFINITY)
  assert.equal(ms('-1'), Number.POSITIVE_INFINITY)
})
