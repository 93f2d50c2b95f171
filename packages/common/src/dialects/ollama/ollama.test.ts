import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RbeeError } from '../../errors.js'
import { chatChunk, refusalOf, turnEnd } from '../test-support/fixtures.js'
import { OLLAMA_CHAT, OLLAMA_GENERATE, OLLAMA_PROTOCOL } from './index.js'

const frame = (ev: { data: unknown }): string => OLLAMA_PROTOCOL.frame!(ev)

test('a streamed tool call is one line with whole calls, and the last line ends with eval_duration', () => {
  const s = OLLAMA_CHAT.stream({ model: 'tiny', messages: [] })
  const lines = [
    ...s.chunk(chatChunk({ content: 'Hi' })),
    ...s.chunk(
      chatChunk({
        tool_calls: [{ index: 0, id: 'c1', type: 'function', function: { name: 'f', arguments: '' } }],
      }),
    ),
    ...s.chunk(chatChunk({ tool_calls: [{ index: 0, function: { arguments: '{"a":' } }] })),
    ...s.chunk(chatChunk({ tool_calls: [{ index: 0, function: { arguments: '1}' } }] })),
    ...s.chunk(chatChunk({}, 'tool_calls')),
    ...s.end(turnEnd(3, 4)),
  ].map(frame)
  assert.equal(lines.length, 3)
  const call = JSON.parse(lines[1]!) as { message: { tool_calls: unknown } }
  assert.deepEqual(call.message.tool_calls, [
    { id: 'c1', function: { index: 0, name: 'f', arguments: { a: 1 } } },
  ])
  assert.match(lines[2]!, /"done":true,"done_reason":"stop",.*"eval_count":4,"eval_duration":2000000}\n$/)
  assert.ok(OLLAMA_PROTOCOL.endMarks.some((m) => lines[2]!.slice(-64).includes(m)))
  assert.equal(OLLAMA_PROTOCOL.classify(lines[0]!.trimEnd()), 'output')
})

test('an error line is an error before output, and the code a stream ended with', () => {
  const line = frame({ data: { error: 'too late', code: 'RBEE_DEADLINE_EXCEEDED' } })
  assert.deepEqual(OLLAMA_PROTOCOL.classify(line.trimEnd()), {
    error: 'too late',
    code: 'RBEE_DEADLINE_EXCEEDED',
  })
  assert.equal(
    OLLAMA_PROTOCOL.endedWithError(`{"done":false}\n${line}\r\n0\r\n\r\n`),
    'RBEE_DEADLINE_EXCEEDED',
  )
  assert.equal(
    OLLAMA_PROTOCOL.errorFrame(new RbeeError('RBEE_ENGINE', 'boom')),
    '{"error":"boom","code":"RBEE_ENGINE"}\n',
  )
})

test("Ollama's history becomes a chat history: invented call ids pair each tool result with its call", () => {
  const { chat } = OLLAMA_CHAT.read({
    model: 'tiny',
    messages: [
      { role: 'user', content: 'weather?' },
      {
        role: 'assistant',
        content: '',
        tool_calls: [
          { function: { name: 'a', arguments: {} } },
          { function: { name: 'b', arguments: { x: 1 } } },
        ],
      },
      { role: 'tool', content: 'B', tool_name: 'b' },
      { role: 'tool', content: 'A' },
    ],
    options: { num_predict: 3, seed: 1, stop: ['x'] },
    format: 'json',
    stream: false,
  })
  assert.deepEqual(chat.messages.slice(2), [
    { role: 'tool', tool_call_id: 'call_1_1', content: 'B' },
    { role: 'tool', tool_call_id: 'call_1_0', content: 'A' },
  ])
  assert.deepEqual([chat.max_tokens, chat.seed, chat.stop, chat.stream], [3, 1, ['x'], false])
  assert.deepEqual(chat.response_format, { type: 'json_object' })
  const refusal = (body: object): string =>
    refusalOf((b) => OLLAMA_GENERATE.read(b), { model: 'tiny', prompt: 'p', ...body })
  assert.match(refusal({ options: { typical_p: 0.5 } }), /options\.typical_p: not supported for generation/)
  assert.match(refusal({ options: { num_predict: -1 } }), /options\.num_predict: must be 1 or more/)
  assert.match(refusal({ options: { stop: ['a', 'b', 'c', 'd', 'e'] } }), /options\.stop: /)
  assert.match(refusal({ context: [1, 2] }), /context: context is not supported/)
})
