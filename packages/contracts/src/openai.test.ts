import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  ChatCompletionChunkSchema,
  ChatCompletionRequestSchema,
  ChatCompletionSchema,
  ChatMessageSchema,
  CompletionRequestSchema,
  CompletionSchema,
  EmbeddingRequestSchema,
  EmbeddingResponseSchema,
  FinishReasonSchema,
  ModelListSchema,
  OpenAiErrorSchema,
  UsageSchema,
} from './openai.js'
import {
  contractTable,
  type Invalid,
  rejectsAt,
  roundTrips,
  type Valid,
} from './test-support/contract-table.js'

// Byte for byte what the `openai` npm client (6.x) puts on the wire for
// `client.chat.completions.create({ ... })`: it sends the caller's params as given.
const OPENAI_CLIENT_CHAT_BODY =
  '{"model":"tiny","stream":true,"stream_options":{"include_usage":true},"stop":null,' +
  '"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":[{"type":"text","text":"Hi"}]}],' +
  '"temperature":0.7,"top_p":0.95,"max_tokens":64,"logit_bias":{},"seed":42,"n":1,' +
  '"frequency_penalty":0,"presence_penalty":0,"user":"u-1"}'

const chat = { model: 'tiny', messages: [{ role: 'user', content: 'Hello' }] }
const usage = { prompt_tokens: 9, completion_tokens: 12, total_tokens: 21 }
const completion = {
  id: 'chatcmpl-01J9',
  object: 'chat.completion',
  created: 1_795_000_000,
  model: 'tiny',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hi there.' }, finish_reason: 'stop' }],
  usage,
}
const chunk = {
  id: 'chatcmpl-01J9',
  object: 'chat.completion.chunk',
  created: 1_795_000_000,
  model: 'tiny',
  choices: [{ index: 0, delta: { content: ' there' }, finish_reason: null }],
}

const valid: Valid[] = [
  ['a minimal chat request', ChatCompletionRequestSchema, chat],
  [
    'a conversation with every role',
    ChatCompletionRequestSchema,
    {
      model: 'tiny',
      messages: [
        { role: 'developer', content: 'Answer in French.' },
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: [{ type: 'text', text: 'Bonjour' }] },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'lookup', arguments: '{"q":1}' } },
          ],
        },
        { role: 'tool', content: '42', tool_call_id: 'call_1' },
        { role: 'assistant', content: [{ type: 'refusal', refusal: 'Non.' }] },
      ],
      tools: [{ type: 'function', function: { name: 'lookup' } }],
      max_completion_tokens: 100,
      stop: 'END',
    },
  ],
  [
    'a chat request with rbee sampling extensions',
    ChatCompletionRequestSchema,
    {
      ...chat,
      top_k: 40,
      min_p: 0.05,
      repeat_penalty: 1.1,
    },
  ],
  [
    'a text completion request',
    CompletionRequestSchema,
    { model: 'tiny', prompt: 'Once upon', max_tokens: 8, echo: false },
  ],
  [
    'a text completion request with a one-prompt array',
    CompletionRequestSchema,
    { model: 'tiny', prompt: ['Once'] },
  ],
  ['an embedding request with one input', EmbeddingRequestSchema, { model: 'nomic-embed', input: 'hello' }],
  [
    'an embedding request with a batch',
    EmbeddingRequestSchema,
    {
      model: 'nomic-embed',
      input: ['a', 'b'],
      encoding_format: 'float',
      user: 'u-1',
    },
  ],
  ['usage figures', UsageSchema, usage],
  ['a null finish reason', FinishReasonSchema, null],
  ['a chat completion', ChatCompletionSchema, completion],
  [
    'a first chunk with the role',
    ChatCompletionChunkSchema,
    {
      ...chunk,
      choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }],
    },
  ],
  ['a content chunk', ChatCompletionChunkSchema, chunk],
  [
    'a final chunk',
    ChatCompletionChunkSchema,
    { ...chunk, choices: [{ index: 0, delta: {}, finish_reason: 'length' }] },
  ],
  ['a usage chunk', ChatCompletionChunkSchema, { ...chunk, choices: [], usage }],
  [
    'a text completion',
    CompletionSchema,
    {
      id: 'cmpl-01J9',
      object: 'text_completion',
      created: 1_795_000_000,
      model: 'tiny',
      choices: [{ index: 0, text: ' a time', finish_reason: 'length', logprobs: null }],
      usage,
    },
  ],
  [
    'an embedding response',
    EmbeddingResponseSchema,
    {
      object: 'list',
      model: 'nomic-embed',
      data: [{ object: 'embedding', index: 0, embedding: [0.1, -0.2, 0.3] }],
      usage: { prompt_tokens: 2, total_tokens: 2 },
    },
  ],
  [
    'a model list',
    ModelListSchema,
    {
      object: 'list',
      data: [
        { id: 'tiny', object: 'model', created: 1_795_000_000, owned_by: 'rbee', loaded: true },
        { id: 'hf:org/repo', object: 'model', created: 1_795_000_000, owned_by: 'rbee' },
      ],
    },
  ],
  [
    'an OpenAI error',
    OpenAiErrorSchema,
    {
      error: {
        message: 'temperature: Too big',
        type: 'invalid_request_error',
        param: 'temperature',
        code: null,
      },
    },
  ],
]

const invalid: Invalid[] = [
  [
    'an unknown message role',
    ChatCompletionRequestSchema,
    {
      model: 'tiny',
      messages: [
        { role: 'system', content: 'x' },
        { role: 'robot', content: 'x' },
      ],
    },
    'messages.1.role',
  ],
  [
    'a message whose content is a number',
    ChatCompletionRequestSchema,
    {
      model: 'tiny',
      messages: [{ role: 'user', content: 42 }],
    },
    'messages.0.content',
  ],
  [
    'an image content part (text only is served)',
    ChatCompletionRequestSchema,
    {
      model: 'tiny',
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] }],
    },
    'messages.0.content.0.type',
  ],
  ['no messages', ChatCompletionRequestSchema, { model: 'tiny', messages: [] }, 'messages'],
  ['a missing model', ChatCompletionRequestSchema, { messages: chat.messages }, 'model'],
  ['temperature 3', ChatCompletionRequestSchema, { ...chat, temperature: 3 }, 'temperature'],
  ['an absurd max_tokens (1e9)', ChatCompletionRequestSchema, { ...chat, max_tokens: 1e9 }, 'max_tokens'],
  [
    'an absurd max_completion_tokens',
    ChatCompletionRequestSchema,
    { ...chat, max_completion_tokens: 1e9 },
    'max_completion_tokens',
  ],
  ['n above 1', ChatCompletionRequestSchema, { ...chat, n: 2 }, 'n'],
  ['five stop strings', ChatCompletionRequestSchema, { ...chat, stop: ['a', 'b', 'c', 'd', 'e'] }, 'stop'],
  [
    'frequency_penalty 3',
    ChatCompletionRequestSchema,
    { ...chat, frequency_penalty: 3 },
    'frequency_penalty',
  ],
  ['stream as a string', ChatCompletionRequestSchema, { ...chat, stream: 'true' }, 'stream'],
  ['a bare message with no content', ChatMessageSchema, { role: 'user' }, 'content'],
  [
    'two prompts in one completion request',
    CompletionRequestSchema,
    { model: 'tiny', prompt: ['a', 'b'] },
    'prompt',
  ],
  ['an empty prompt', CompletionRequestSchema, { model: 'tiny', prompt: '' }, 'prompt'],
  ['an empty embedding batch', EmbeddingRequestSchema, { model: 'e', input: [] }, 'input'],
  [
    'an unknown encoding format',
    EmbeddingRequestSchema,
    { model: 'e', input: 'x', encoding_format: 'hex' },
    'encoding_format',
  ],
  ['negative usage', UsageSchema, { ...usage, total_tokens: -1 }, 'total_tokens'],
  [
    'a chunk object type on a completion',
    ChatCompletionSchema,
    { ...completion, object: 'chat.completion.chunk' },
    'object',
  ],
  [
    'a finish reason rbee never sends',
    ChatCompletionSchema,
    {
      ...completion,
      choices: [{ ...completion.choices[0], finish_reason: 'content_filter' }],
    },
    'choices.0.finish_reason',
  ],
  [
    'a non-assistant delta role',
    ChatCompletionChunkSchema,
    {
      ...chunk,
      choices: [{ index: 0, delta: { role: 'user' }, finish_reason: null }],
    },
    'choices.0.delta.role',
  ],
  [
    'an OpenAI error without a type',
    OpenAiErrorSchema,
    { error: { message: 'x', param: null, code: null } },
    'error.type',
  ],
]

contractTable('OpenAI contracts', valid, invalid)

test('a streaming chat request exactly as the openai npm client sends it is accepted', () => {
  const req = roundTrips(ChatCompletionRequestSchema, JSON.parse(OPENAI_CLIENT_CHAT_BODY))
  assert.equal(req.stream, true)
  assert.deepEqual(req.stream_options, { include_usage: true })
  assert.equal(req.stop, null)
  assert.equal(req.max_tokens, 64)
  assert.deepEqual(req.messages[1]?.content, [{ type: 'text', text: 'Hi' }])
  // A field rbee does not serve passes only when it asks for nothing (an empty logit_bias).
  assert.deepEqual(req.logit_bias, {})
  rejectsAt(
    ChatCompletionRequestSchema,
    { ...JSON.parse(OPENAI_CLIENT_CHAT_BODY), logit_bias: { 50256: -100 } },
    'logit_bias',
  )
})

test('a chat request with every nullable OpenAI field set to null is accepted', () => {
  const req = ChatCompletionRequestSchema.parse({
    ...chat,
    temperature: null,
    top_p: null,
    seed: null,
    n: null,
    stream: null,
    stream_options: null,
    stop: null,
    max_tokens: null,
    max_completion_tokens: null,
    frequency_penalty: null,
    presence_penalty: null,
  })
  assert.equal(req.temperature, null)
  assert.equal(req.max_tokens, null)
})

test('an assistant message with tool calls and null content passes whole', () => {
  const msg = {
    role: 'assistant',
    content: null,
    tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }],
  }
  assert.deepEqual(ChatMessageSchema.parse(msg), msg)
})
