import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  MAX_TOKENS_LIMIT,
  SamplingParamsSchema,
  StopReasonSchema,
  StopSchema,
  TimingsSchema,
} from './sampling.js'
import { contractTable, type Invalid, type Valid } from './test-support/contract-table.js'
import { describeIssues } from './validation.js'

const sampling = {
  max_tokens: 256,
  temperature: 0.7,
  top_p: 0.95,
  top_k: 40,
  min_p: 0.05,
  repeat_penalty: 1.1,
  seed: 42,
  stop: ['\n\n', '</s>'],
}
const timings = { prompt_tokens: 12, prompt_ms: 8.2, generation_ms: 410.5, tokens_per_s: 77.9, queue_ms: 0 }

const valid: Valid[] = [
  ['every sampling parameter', SamplingParamsSchema, sampling],
  ['no sampling parameters at all', SamplingParamsSchema, {}],
  [
    'the edges of every range',
    SamplingParamsSchema,
    {
      max_tokens: MAX_TOKENS_LIMIT,
      temperature: 2,
      top_p: 1,
      top_k: 0,
      min_p: 1,
      seed: 4_294_967_295,
      stop: [],
    },
  ],
  ['greedy decoding', SamplingParamsSchema, { temperature: 0, max_tokens: 1 }],
  ['a single stop string', StopSchema, 'Observation:'],
  ['four stop strings', StopSchema, ['a', 'b', 'c', 'd']],
  ['every stop reason', StopReasonSchema.array(), ['length', 'stop', 'eos', 'cancelled']],
  ['generation timings', TimingsSchema, timings],
]

const invalid: Invalid[] = [
  ['temperature 3', SamplingParamsSchema, { temperature: 3 }, 'temperature'],
  ['a negative temperature', SamplingParamsSchema, { temperature: -0.1 }, 'temperature'],
  ['top_p 0', SamplingParamsSchema, { top_p: 0 }, 'top_p'],
  ['top_p above 1', SamplingParamsSchema, { top_p: 1.1 }, 'top_p'],
  ['an absurd max_tokens (1e9)', SamplingParamsSchema, { max_tokens: 1e9 }, 'max_tokens'],
  [
    'max_tokens just above the limit',
    SamplingParamsSchema,
    { max_tokens: MAX_TOKENS_LIMIT + 1 },
    'max_tokens',
  ],
  ['max_tokens 0', SamplingParamsSchema, { max_tokens: 0 }, 'max_tokens'],
  ['a fractional max_tokens', SamplingParamsSchema, { max_tokens: 1.5 }, 'max_tokens'],
  ['max_tokens as a string', SamplingParamsSchema, { max_tokens: '64' }, 'max_tokens'],
  ['a negative top_k', SamplingParamsSchema, { top_k: -1 }, 'top_k'],
  ['min_p above 1', SamplingParamsSchema, { min_p: 2 }, 'min_p'],
  ['repeat_penalty above 10', SamplingParamsSchema, { repeat_penalty: 11 }, 'repeat_penalty'],
  ['a negative seed', SamplingParamsSchema, { seed: -1 }, 'seed'],
  ['a seed above 2^32-1', SamplingParamsSchema, { seed: 2 ** 32 }, 'seed'],
  ['five stop strings', SamplingParamsSchema, { stop: ['a', 'b', 'c', 'd', 'e'] }, 'stop'],
  ['an empty stop string', SamplingParamsSchema, { stop: '' }, 'stop'],
  ['an unknown stop reason', StopReasonSchema, 'timeout', '(body)'],
  ['a negative tokens_per_s', TimingsSchema, { ...timings, tokens_per_s: -1 }, 'tokens_per_s'],
  ['timings without queue_ms', TimingsSchema, { ...timings, queue_ms: undefined }, 'queue_ms'],
]

contractTable('sampling contracts', valid, invalid)

test('a bad temperature is described by its field and the allowed range', () => {
  const r = SamplingParamsSchema.safeParse({ temperature: 3 })
  assert.equal(r.success, false)
  assert.match(describeIssues(r.error!), /^temperature: .*2/)
})
