import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  ChatCompletionChunkSchema,
  ChatCompletionRequestSchema,
  ChatCompletionSchema,
  CompletionRequestSchema,
} from './openai.js'
import { contractTable, type Invalid, type Valid } from './test-support/contract-table.js'

const chat = { model: 'tiny', messages: [{ role: 'user', content: 'Weather in Paris?' }] }
const weather = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The weather of a city',
    // Already in normal form (every property is always written, so `required` is implied).
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' }, unit: { enum: ['c', 'f'] } },
      additionalProperties: false,
    },
    strict: true,
  },
}
const tools = [weather, { type: 'function', function: { name: 'ping' } }]
const call = {
  id: 'call_1',
  type: 'function',
  function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
}
const person = {
  type: 'object',
  properties: { name: { type: 'string', maxLength: 40 }, age: { type: 'integer' } },
  required: ['name', 'age'],
  additionalProperties: false,
}

// Requests whose every field rbee honours (the parsed schema of a tool or format is its normal
// form, so these compare unchanged only where the schema is already in it).
const valid: Valid[] = [
  ['tools with tool_choice none', ChatCompletionRequestSchema, { ...chat, tools, tool_choice: 'none' }],
  [
    'tools with a named function',
    ChatCompletionRequestSchema,
    {
      ...chat,
      tools,
      tool_choice: { type: 'function', function: { name: 'ping' } },
    },
  ],
  [
    'tools with allowed_tools',
    ChatCompletionRequestSchema,
    {
      ...chat,
      tools,
      tool_choice: {
        type: 'allowed_tools',
        allowed_tools: { mode: 'required', tools: [{ type: 'function', function: { name: 'ping' } }] },
      },
      parallel_tool_calls: false,
    },
  ],
  [
    'a json_object response format',
    ChatCompletionRequestSchema,
    { ...chat, response_format: { type: 'json_object' } },
  ],
  [
    'a json_schema format next to tools the model may not call',
    ChatCompletionRequestSchema,
    {
      ...chat,
      tools: [{ type: 'function', function: { name: 'ping' } }],
      tool_choice: 'none',
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'person',
          schema: { type: 'object', properties: { age: { type: 'integer' } } },
          strict: true,
        },
      },
    },
  ],
  [
    'a history with tool calls answered in any order',
    ChatCompletionRequestSchema,
    {
      ...chat,
      messages: [
        ...chat.messages,
        { role: 'assistant', content: 'Checking.', tool_calls: [call, { ...call, id: 'call_2' }] },
        { role: 'tool', tool_call_id: 'call_2', content: '{"temp":21}' },
        { role: 'tool', tool_call_id: 'call_1', content: [{ type: 'text', text: 'sunny' }] },
        { role: 'assistant', content: 'Sunny, 21.' },
        { role: 'user', content: 'Thanks' },
      ],
      tools,
    },
  ],
  [
    'a completion with tool calls',
    ChatCompletionSchema,
    {
      id: 'chatcmpl-1',
      object: 'chat.completion',
      created: 1_795_000_000,
      model: 'tiny',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: null, tool_calls: [call] },
          finish_reason: 'tool_calls',
        },
      ],
      usage: { prompt_tokens: 9, completion_tokens: 12, total_tokens: 21 },
    },
  ],
  [
    'the first chunk of a streamed tool call',
    ChatCompletionChunkSchema,
    {
      id: 'chatcmpl-1',
      object: 'chat.completion.chunk',
      created: 1_795_000_000,
      model: 'tiny',
      choices: [
        {
          index: 0,
          delta: {
            tool_calls: [
              { index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } },
            ],
          },
          finish_reason: null,
        },
      ],
    },
  ],
]

// Fields refused with a 400 that names them (issue 17, point 7), and malformed tool fields.
const invalid: Invalid[] = [
  ['n = 2', ChatCompletionRequestSchema, { ...chat, n: 2 }, 'n'],
  ['logprobs', ChatCompletionRequestSchema, { ...chat, logprobs: true }, 'logprobs'],
  ['top_logprobs', ChatCompletionRequestSchema, { ...chat, top_logprobs: 3 }, 'top_logprobs'],
  ['a logit_bias', ChatCompletionRequestSchema, { ...chat, logit_bias: { 42: 5 } }, 'logit_bias'],
  ['audio output', ChatCompletionRequestSchema, { ...chat, modalities: ['text', 'audio'] }, 'modalities'],
  [
    'audio settings',
    ChatCompletionRequestSchema,
    { ...chat, audio: { voice: 'alloy', format: 'mp3' } },
    'audio',
  ],
  [
    'a prediction',
    ChatCompletionRequestSchema,
    { ...chat, prediction: { type: 'content', content: 'x' } },
    'prediction',
  ],
  ['store: true', ChatCompletionRequestSchema, { ...chat, store: true }, 'store'],
  [
    'a priority service tier',
    ChatCompletionRequestSchema,
    { ...chat, service_tier: 'priority' },
    'service_tier',
  ],
  [
    'reasoning_effort',
    ChatCompletionRequestSchema,
    { ...chat, reasoning_effort: 'high' },
    'reasoning_effort',
  ],
  ['verbosity', ChatCompletionRequestSchema, { ...chat, verbosity: 'low' }, 'verbosity'],
  ['web search', ChatCompletionRequestSchema, { ...chat, web_search_options: {} }, 'web_search_options'],
  ['legacy functions', ChatCompletionRequestSchema, { ...chat, functions: [{ name: 'f' }] }, 'functions'],
  ['legacy function_call', ChatCompletionRequestSchema, { ...chat, function_call: 'auto' }, 'function_call'],
  [
    'obfuscation',
    ChatCompletionRequestSchema,
    { ...chat, stream: true, stream_options: { include_obfuscation: true } },
    'stream_options.include_obfuscation',
  ],
  [
    'stream_options without stream',
    ChatCompletionRequestSchema,
    { ...chat, stream_options: { include_usage: true } },
    'stream_options',
  ],
  ['a field OpenAI does not have', ChatCompletionRequestSchema, { ...chat, mirostat: 2 }, 'mirostat'],
  [
    'a participant name',
    ChatCompletionRequestSchema,
    { ...chat, messages: [{ role: 'user', content: 'x', name: 'al' }] },
    'messages.0.name',
  ],
  [
    'an audio part',
    ChatCompletionRequestSchema,
    {
      ...chat,
      messages: [
        { role: 'user', content: [{ type: 'input_audio', input_audio: { data: '', format: 'wav' } }] },
      ],
    },
    'messages.0.content.0.type',
  ],
  [
    'the function role',
    ChatCompletionRequestSchema,
    { ...chat, messages: [{ role: 'function', name: 'f', content: 'x' }] },
    'messages.0.role',
  ],
  [
    'a custom tool',
    ChatCompletionRequestSchema,
    { ...chat, tools: [{ type: 'custom', custom: { name: 'x' } }] },
    'tools.0.type',
  ],
  [
    'a tool name with a space',
    ChatCompletionRequestSchema,
    { ...chat, tools: [{ type: 'function', function: { name: 'get weather' } }] },
    'tools.0.function.name',
  ],
  [
    'a tool declared twice',
    ChatCompletionRequestSchema,
    { ...chat, tools: [weather, weather] },
    'tools.1.function.name',
  ],
  [
    'a named tool that is not declared',
    ChatCompletionRequestSchema,
    {
      ...chat,
      tools,
      tool_choice: { type: 'function', function: { name: 'nope' } },
    },
    'tool_choice.function.name',
  ],
  [
    'tool_choice without tools',
    ChatCompletionRequestSchema,
    { ...chat, tool_choice: 'required' },
    'tool_choice',
  ],
  [
    'parallel_tool_calls without tools',
    ChatCompletionRequestSchema,
    { ...chat, parallel_tool_calls: false },
    'parallel_tool_calls',
  ],
  [
    'a response format next to tools the model may call',
    ChatCompletionRequestSchema,
    {
      ...chat,
      tools,
      response_format: { type: 'json_object' },
    },
    'response_format',
  ],
  [
    'a schema keyword rbee cannot honour',
    ChatCompletionRequestSchema,
    {
      ...chat,
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'p',
          schema: {
            ...person,
            properties: { ...person.properties, age: { type: 'integer', not: { const: 0 } } },
          },
        },
      },
    },
    'response_format.json_schema.schema.properties.age.not',
  ],
  [
    'a tool schema keyword rbee cannot honour',
    ChatCompletionRequestSchema,
    {
      ...chat,
      tools: [
        {
          type: 'function',
          function: {
            name: 'f',
            parameters: { type: 'object', properties: { s: { type: 'string', format: 'hostname' } } },
          },
        },
      ],
    },
    'tools.0.function.parameters.properties.s.format',
  ],
  [
    'tool call arguments that are not JSON',
    ChatCompletionRequestSchema,
    {
      ...chat,
      messages: [
        ...chat.messages,
        { role: 'assistant', tool_calls: [{ ...call, function: { name: 'f', arguments: '{city' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: 'x' },
      ],
    },
    'messages.1.tool_calls.0.function.arguments',
  ],
  [
    'tool call arguments nested deeper than rbee takes (the template would stringify them again)',
    ChatCompletionRequestSchema,
    {
      ...chat,
      messages: [
        ...chat.messages,
        {
          role: 'assistant',
          tool_calls: [
            { ...call, function: { name: 'f', arguments: `${'['.repeat(5000)}${']'.repeat(5000)}` } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: 'x' },
      ],
    },
    'messages.1.tool_calls.0.function.arguments',
  ],
  [
    'a tool message that answers no call',
    ChatCompletionRequestSchema,
    {
      ...chat,
      messages: [...chat.messages, { role: 'tool', tool_call_id: 'call_9', content: 'x' }],
    },
    'messages.1.tool_call_id',
  ],
  [
    'a tool call left unanswered',
    ChatCompletionRequestSchema,
    {
      ...chat,
      messages: [
        ...chat.messages,
        { role: 'assistant', tool_calls: [call] },
        { role: 'user', content: 'and?' },
      ],
    },
    'messages.1.tool_calls',
  ],
  ['best_of 2', CompletionRequestSchema, { model: 'tiny', prompt: 'x', best_of: 2 }, 'best_of'],
  ['completion logprobs', CompletionRequestSchema, { model: 'tiny', prompt: 'x', logprobs: 2 }, 'logprobs'],
  ['a suffix', CompletionRequestSchema, { model: 'tiny', prompt: 'x', suffix: 'end' }, 'suffix'],
  [
    'a completion field OpenAI does not have',
    CompletionRequestSchema,
    { model: 'tiny', prompt: 'x', grammar: 'root ::= "a"' },
    'grammar',
  ],
  [
    'a completion logit_bias',
    CompletionRequestSchema,
    { model: 'tiny', prompt: 'x', logit_bias: { 1: 1 } },
    'logit_bias',
  ],
]

contractTable('OpenAI contracts', valid, invalid)

test('tool parameters and a json_schema format arrive in normal form', () => {
  const req = ChatCompletionRequestSchema.parse({
    ...chat,
    tools: [
      {
        type: 'function',
        function: {
          name: 'f',
          parameters: { type: 'object', properties: { u: { type: ['string', 'null'], maxLength: 3 } } },
        },
      },
    ],
  })
  assert.deepEqual(req.tools?.[0]?.function.parameters, {
    type: 'object',
    properties: { u: { anyOf: [{ type: 'string', maxLength: 3 }, { type: 'null' }] } },
  })
  const fmt = ChatCompletionRequestSchema.parse({
    ...chat,
    response_format: { type: 'json_schema', json_schema: { name: 'any' } },
  }).response_format
  assert.ok(fmt?.type === 'json_schema')
  assert.deepEqual(fmt.json_schema.schema, { type: 'object', properties: {}, additionalProperties: true })
})

test('fields that ask for nothing pass: nulls, n = 1, text only, no store, the default tier', () => {
  const req = ChatCompletionRequestSchema.parse({
    ...chat,
    n: 1,
    logprobs: false,
    top_logprobs: null,
    logit_bias: null,
    modalities: ['text'],
    audio: null,
    prediction: null,
    store: false,
    service_tier: 'auto',
    reasoning_effort: null,
    user: 'u-1',
    metadata: { team: 'a' },
    tools: null,
    tool_choice: null,
    response_format: { type: 'text' },
  })
  assert.equal(req.n, 1)
  const completion = CompletionRequestSchema.parse({
    model: 'tiny',
    prompt: 'x',
    best_of: 1,
    suffix: '',
    echo: null,
  })
  assert.equal(completion.best_of, 1)
})
