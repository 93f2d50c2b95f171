import { InferEventSchema, InferRequestSchema } from './infer.js'
import { contractTable, type Invalid, type Valid } from './test-support/contract-table.js'

const request = {
  prompt: 'Once upon a time',
  max_tokens: 32,
  temperature: 0.8,
  stop: '\n',
  request_id: 'req-01J9',
}
const end = {
  type: 'end',
  tokens_out: 32,
  stop_reason: 'length',
  timings: { prompt_tokens: 5, prompt_ms: 3.1, generation_ms: 200, tokens_per_s: 160, queue_ms: 1.5 },
}

const valid: Valid[] = [
  ['an infer request with sampling', InferRequestSchema, request],
  ['a bare prompt', InferRequestSchema, { prompt: 'hi' }],
  [
    'a started event',
    InferEventSchema,
    { type: 'started', request_id: 'req-01J9', slot: 0, prompt_tokens: 5 },
  ],
  ['a token event', InferEventSchema, { type: 'token', t: ' upon', i: 1 }],
  ['an empty token (a partial UTF-8 sequence)', InferEventSchema, { type: 'token', t: '', i: 2 }],
  ['an end event', InferEventSchema, end],
  ['a cancelled end event', InferEventSchema, { ...end, stop_reason: 'cancelled' }],
  ['an error event', InferEventSchema, { type: 'error', code: 'RBEE_INFER_FAILED', message: 'context full' }],
]

const invalid: Invalid[] = [
  [
    'an unknown field (the native API is strict)',
    InferRequestSchema,
    { ...request, temprature: 0.5 },
    'temprature',
  ],
  ['an empty prompt', InferRequestSchema, { prompt: '' }, 'prompt'],
  ['a missing prompt', InferRequestSchema, { max_tokens: 8 }, 'prompt'],
  ['temperature 3', InferRequestSchema, { prompt: 'x', temperature: 3 }, 'temperature'],
  ['an absurd max_tokens', InferRequestSchema, { prompt: 'x', max_tokens: 1e9 }, 'max_tokens'],
  ['an overlong request_id', InferRequestSchema, { prompt: 'x', request_id: 'r'.repeat(129) }, 'request_id'],
  ['an unknown event type', InferEventSchema, { type: 'done' }, 'type'],
  ['a negative token index', InferEventSchema, { type: 'token', t: 'x', i: -1 }, 'i'],
  ['an unknown stop reason', InferEventSchema, { ...end, stop_reason: 'timeout' }, 'stop_reason'],
  ['an end event without timings', InferEventSchema, { ...end, timings: undefined }, 'timings'],
  [
    'an end event with bad timings',
    InferEventSchema,
    {
      ...end,
      timings: { ...end.timings, prompt_ms: -1 },
    },
    'timings.prompt_ms',
  ],
]

contractTable('infer contracts', valid, invalid)
