import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { type StartedWorker, schemaErrors, startWorker } from '@rbee/testing'
import OpenAI from 'openai'
import type {
  ChatCompletionChunk,
  ChatCompletionMessageParam,
  ChatCompletionTool,
  ResponseFormatJSONSchema,
} from 'openai/resources'

// Tool calling and structured output on a worker, through the official openai client. The tiny
// model writes noise: every call it makes and every JSON answer it gives is valid only because
// the grammar allows nothing else.

const weatherParams = {
  type: 'object',
  properties: {
    city: { type: 'string', maxLength: 24 },
    unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
    days: { type: 'integer' },
  },
  required: ['city', 'unit', 'days'],
  additionalProperties: false,
}
const tools: ChatCompletionTool[] = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'The weather of a city',
      parameters: weatherParams,
      strict: true,
    },
  },
  {
    type: 'function',
    function: {
      name: 'set_alarm',
      parameters: {
        type: 'object',
        properties: { at: { type: 'string', format: 'time' }, loud: { type: 'boolean' } },
        required: ['at', 'loud'],
        additionalProperties: false,
      },
    },
  },
]
const schemaOf = (name: string): object => {
  const t = tools.find((x) => x.type === 'function' && x.function.name === name)
  assert.ok(t?.type === 'function' && t.function.parameters, name)
  return t.function.parameters
}
const ask: ChatCompletionMessageParam[] = [
  { role: 'user', content: 'What is the weather in Paris this week?' },
]

/** Asserts that a call names a declared tool and that its arguments validate against its schema. */
function assertValidCall(call: { type: string; function?: { name: string; arguments: string } }): void {
  assert.equal(call.type, 'function')
  const f = call.function!
  assert.deepEqual(schemaErrors(schemaOf(f.name), JSON.parse(f.arguments)), [], f.arguments)
}

/** `run` for each seed, two at a time (the worker's two slots). */
async function twoAtATime<T>(seeds: number[], run: (seed: number) => Promise<T>): Promise<T[]> {
  const out: T[] = []
  for (let i = 0; i < seeds.length; i += 2) out.push(...(await Promise.all(seeds.slice(i, i + 2).map(run))))
  return out
}

const event = {
  type: 'object',
  properties: {
    title: { type: 'string', maxLength: 24 },
    day: { type: 'string', format: 'date' },
    starts: { type: 'string', format: 'time' },
    seats: { type: 'integer' },
    price: { type: 'number' },
    kind: { type: 'string', enum: ['talk', 'workshop'] },
    tags: { type: 'array', items: { type: 'string', maxLength: 8 }, maxItems: 3 },
    venue: { anyOf: [{ $ref: '#/$defs/Venue' }, { type: 'null' }] },
  },
  required: ['title', 'day', 'starts', 'seats', 'price', 'kind', 'tags', 'venue'],
  additionalProperties: false,
  $defs: {
    Venue: {
      type: 'object',
      properties: { city: { type: 'string', maxLength: 16 }, open: { type: 'boolean' } },
      required: ['city', 'open'],
      additionalProperties: false,
    },
  },
}

describe('tool calls and structured output on a worker', () => {
  let w: StartedWorker
  let openai: OpenAI
  before(async () => {
    // The tools' documentation is ~600 tokens of the tiny model's vocabulary.
    w = await startWorker({ args: ['--slots', '2', '--ctx-size', '2048'] })
    openai = new OpenAI({ baseURL: `${w.url}/v1`, apiKey: 'not-needed', maxRetries: 0 })
  })
  after(() => w.close())

  /** The pieces of a streamed answer under `format`. */
  const streamedAnswer = async (format: ResponseFormatJSONSchema, seed: number): Promise<string[]> => {
    const stream = await openai.chat.completions.create({
      model: 'tiny',
      messages: ask,
      response_format: format,
      seed,
      stream: true,
    })
    const pieces: string[] = []
    for await (const c of stream) if (c.choices[0]?.delta.content) pieces.push(c.choices[0].delta.content)
    return pieces
  }

  test('tool_choice "required" makes even a noise model answer with one valid call', async () => {
    const answers = await Promise.all(
      [1, 2, 3, 4].map((seed) =>
        openai.chat.completions.create({
          model: 'tiny',
          messages: ask,
          tools,
          tool_choice: 'required',
          parallel_tool_calls: false,
          seed,
        }),
      ),
    )
    for (const a of answers) {
      const choice = a.choices[0]!
      assert.equal(choice.finish_reason, 'tool_calls')
      assert.equal(choice.message.content, null)
      assert.equal(choice.message.tool_calls?.length, 1)
      assertValidCall(choice.message.tool_calls[0]!)
      assert.ok(a.usage!.completion_tokens > 0)
    }
  })

  test('a named function is the one called; parallel calls each get their own id', async () => {
    const named = await openai.chat.completions.create({
      model: 'tiny',
      messages: ask,
      tools,
      tool_choice: { type: 'function', function: { name: 'set_alarm' } },
      seed: 5,
    })
    const calls = named.choices[0]!.message.tool_calls ?? []
    assert.equal(calls.length, 1)
    assert.ok(calls[0]?.type === 'function' && calls[0].function.name === 'set_alarm')
    assertValidCall(calls[0])
    const parallel = await openai.chat.completions.create({
      model: 'tiny',
      messages: ask,
      tools,
      tool_choice: 'required',
      seed: 6,
    })
    const several = parallel.choices[0]!.message.tool_calls ?? []
    // The noise model never ends the section of calls: it calls until the limit or its tokens.
    assert.ok(several.length >= 2, `${several.length} calls`)
    for (const c of several) assertValidCall(c)
    assert.equal(new Set(several.map((c) => c.id)).size, several.length)
  })

  test('with "auto" the model may answer in text; with "none" it does, and the tools are not shown', async () => {
    const plain = await openai.chat.completions.create({
      model: 'tiny',
      messages: ask,
      max_tokens: 8,
      seed: 7,
    })
    const auto = await openai.chat.completions.create({
      model: 'tiny',
      messages: ask,
      tools,
      max_tokens: 8,
      seed: 7,
    })
    const none = await openai.chat.completions.create({
      model: 'tiny',
      messages: ask,
      tools,
      tool_choice: 'none',
      max_tokens: 8,
      seed: 7,
    })
    for (const a of [auto, none]) {
      assert.equal(a.choices[0]!.finish_reason, 'length')
      assert.ok(a.choices[0]!.message.content)
      assert.equal(a.choices[0]!.message.tool_calls, undefined)
    }
    assert.ok(auto.usage!.prompt_tokens > plain.usage!.prompt_tokens + 100, 'the tools are shown with auto')
    assert.equal(none.usage!.prompt_tokens, plain.usage!.prompt_tokens, 'and not with none')
  })

  test('a streamed call comes as OpenAI sends it and the official client puts it together', async () => {
    const raw = await openai.chat.completions.create({
      model: 'tiny',
      messages: ask,
      tools,
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      seed: 8,
      stream: true,
    })
    const chunks: ChatCompletionChunk[] = []
    for await (const c of raw) chunks.push(c)
    const deltas = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? [])
    assert.ok(deltas.length >= 3, `${deltas.length} tool call deltas`)
    const [first, ...rest] = deltas
    assert.equal(first?.index, 0)
    assert.match(first?.id ?? '', /^call_/)
    assert.equal(first?.type, 'function')
    assert.deepEqual(first?.function, { name: 'get_weather', arguments: '' })
    for (const d of rest) assert.deepEqual(Object.keys(d).sort(), ['function', 'index'])
    const args = rest.map((d) => d.function?.arguments ?? '').join('')
    assert.deepEqual(schemaErrors(weatherParams, JSON.parse(args)), [], args)
    assert.equal(chunks.at(-1)?.choices[0]?.finish_reason, 'tool_calls')

    const helper = openai.chat.completions.stream({
      model: 'tiny',
      messages: ask,
      tools,
      tool_choice: 'required',
      parallel_tool_calls: false,
      seed: 9,
      stream_options: { include_usage: true },
    })
    const final = await helper.finalChatCompletion()
    assert.equal(final.choices[0]?.finish_reason, 'tool_calls')
    assertValidCall(final.choices[0]!.message.tool_calls![0]!)
    assert.ok(final.usage!.completion_tokens > 0)
  })

  test('tool results in the history: the conversation goes on after them', async () => {
    const first = await openai.chat.completions.create({
      model: 'tiny',
      messages: ask,
      tools,
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      seed: 10,
    })
    const message = first.choices[0]!.message
    const history: ChatCompletionMessageParam[] = [
      ...ask,
      message,
      {
        role: 'tool',
        tool_call_id: message.tool_calls![0]!.id,
        content: '{"forecast": "sunny", "high": 21}',
      },
    ]
    const again = await openai.chat.completions.create({
      model: 'tiny',
      messages: history,
      tools,
      tool_choice: 'required',
      parallel_tool_calls: false,
      seed: 11,
    })
    assert.ok(
      again.usage!.prompt_tokens > first.usage!.prompt_tokens + 20,
      'the call and its result are in the prompt',
    )
    assertValidCall(again.choices[0]!.message.tool_calls![0]!)
    const text = await openai.chat.completions.create({
      model: 'tiny',
      messages: history,
      tools,
      max_tokens: 6,
      seed: 12,
    })
    assert.ok(text.choices[0]!.message.content)
    await assert.rejects(
      openai.chat.completions.create({
        model: 'tiny',
        messages: [...ask, message, { role: 'user', content: 'and?' }],
        tools,
      }),
      (err: unknown) => err instanceof OpenAI.BadRequestError && /messages\.1\.tool_calls/.test(err.message),
    )
  })

  test('json_object and strict json_schema answers parse and validate, streamed or not', async () => {
    const objects = await Promise.all(
      [1, 2, 3].map((seed) =>
        openai.chat.completions.create({
          model: 'tiny',
          messages: ask,
          response_format: { type: 'json_object' },
          seed,
        }),
      ),
    )
    for (const o of objects) {
      const value: unknown = JSON.parse(o.choices[0]!.message.content!)
      assert.ok(
        typeof value === 'object' && value !== null && !Array.isArray(value),
        o.choices[0]!.message.content!,
      )
    }
    const format = {
      type: 'json_schema' as const,
      json_schema: { name: 'event', strict: true, schema: event },
    }
    const events = await Promise.all(
      [21, 22, 23, 24, 25, 26].map((seed) =>
        openai.chat.completions.create({
          model: 'tiny',
          messages: ask,
          response_format: format,
          seed,
          temperature: 1.5,
        }),
      ),
    )
    for (const e of events) {
      const content = e.choices[0]!.message.content!
      assert.equal(e.choices[0]!.finish_reason, 'stop', content)
      assert.deepEqual(schemaErrors(event, JSON.parse(content)), [], content)
    }
    const content = (await streamedAnswer(format, 27)).join('')
    assert.deepEqual(schemaErrors(event, JSON.parse(content)), [], content)
  })

  // Keywords of agents' tool schemas (Claude Code's bounds and uri, an MCP server's pattern) that
  // the grammar holds: the noise model meets them on every seed, and the output still streams.
  const bounded = {
    type: 'object',
    properties: {
      seats: { type: 'integer', minimum: 3, maximum: 7 },
      turns: { type: 'integer', exclusiveMinimum: 0, maximum: 9007199254740991 },
      timeout: { type: 'number', minimum: 0, maximum: 600000 },
      code: { type: 'string', pattern: '^[A-Z]{3}-\\d{2}$' },
      url: { type: 'string', format: 'uri' },
      id: { type: 'string', format: 'uuid' },
    },
    required: ['seats', 'turns', 'timeout', 'code', 'url', 'id'],
    additionalProperties: false,
  }

  test('integer and number bounds, a pattern and formats hold on every seed, in tool calls and answers', async () => {
    const book: ChatCompletionTool = { type: 'function', function: { name: 'book', parameters: bounded } }
    const seeds = [31, 32, 33, 34, 35, 36, 37, 38]
    const calls = await twoAtATime(seeds, (seed) =>
      openai.chat.completions.create({
        model: 'tiny',
        messages: ask,
        tools: [book],
        tool_choice: 'required',
        parallel_tool_calls: false,
        temperature: 1.5,
        seed,
      }),
    )
    for (const c of calls) {
      const call = c.choices[0]!.message.tool_calls![0]!
      assert.ok(call.type === 'function')
      assert.deepEqual(
        schemaErrors(bounded, JSON.parse(call.function.arguments)),
        [],
        call.function.arguments,
      )
    }
    const format = { type: 'json_schema' as const, json_schema: { name: 'b', schema: bounded, strict: true } }
    const answers = await Promise.all(
      seeds.map((seed) =>
        openai.chat.completions.create({
          model: 'tiny',
          messages: ask,
          response_format: format,
          temperature: 1.5,
          seed,
        }),
      ),
    )
    for (const a of answers) {
      const content = a.choices[0]!.message.content!
      assert.deepEqual(schemaErrors(bounded, JSON.parse(content)), [], content)
    }
    const pieces = await streamedAnswer(format, 39)
    assert.ok(pieces.length > 10, `streamed as generated: ${pieces.length} pieces`)
    assert.deepEqual(schemaErrors(bounded, JSON.parse(pieces.join(''))), [])
  })

  test('multipleOf and uniqueItems, which no grammar holds, are never broken: valid output or RBEE_OUTPUT_CONSTRAINT', async () => {
    const checked = {
      type: 'object',
      properties: {
        n: { type: 'integer', minimum: 0, maximum: 9, multipleOf: 3 },
        picks: {
          type: 'array',
          items: { type: 'integer', minimum: 0, maximum: 3 },
          maxItems: 3,
          uniqueItems: true,
        },
      },
      required: ['n', 'picks'],
      additionalProperties: false,
    }
    const outcomes = await twoAtATime([41, 42, 43, 44, 45, 46], async (seed) => {
      const res = await fetch(`${w.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'tiny',
          messages: ask,
          response_format: { type: 'json_schema', json_schema: { name: 'c', schema: checked } },
          temperature: 1.5,
          seed,
        }),
      })
      return {
        status: res.status,
        body: (await res.json()) as {
          choices: Array<{ message: { content: string } }>
          error: { code: string; message: string }
        },
      }
    })
    let valid = 0
    for (const { status, body } of outcomes) {
      if (status === 200) {
        const content = (body as { choices: Array<{ message: { content: string } }> }).choices[0]!.message
          .content
        assert.deepEqual(schemaErrors(checked, JSON.parse(content)), [], content)
        valid++
      } else {
        const error = body.error
        assert.equal(status, 422, JSON.stringify(body))
        assert.equal(error.code, 'RBEE_OUTPUT_CONSTRAINT')
        assert.match(error.message, /at \/(n|picks)\b.*breaks (multipleOf|uniqueItems).*after 3 attempts/)
      }
    }
    assert.ok(valid > 0, 'some seed meets the schema within its attempts')
  })

  test('what the worker cannot honour is a 400 that names the field', async () => {
    const cases: Array<[unknown, string]> = [
      [{ n: 2 }, 'n'],
      [{ logprobs: true }, 'logprobs'],
      [
        { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] },
        'messages.0.content.0.type',
      ],
      [
        {
          response_format: {
            type: 'json_schema',
            json_schema: { name: 'n', schema: { type: 'integer', minimum: 2, maximum: 1 } },
          },
        },
        'response_format.json_schema.schema.minimum',
      ],
      [{ tools, tool_choice: { type: 'function', function: { name: 'nope' } } }, 'tool_choice.function.name'],
      [{ tools, response_format: { type: 'json_object' } }, 'response_format'],
      [{ mirostat: 2 }, 'mirostat'],
    ]
    for (const [extra, param] of cases) {
      const res = await fetch(`${w.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'tiny', messages: ask, ...(extra as object) }),
      })
      const body = (await res.json()) as { error: { type: string; param: string; message: string } }
      assert.equal(res.status, 400, JSON.stringify(body))
      assert.equal(body.error.type, 'invalid_request_error')
      assert.equal(body.error.param, param, body.error.message)
    }
  })
})
