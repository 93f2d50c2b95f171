import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RbeeError } from '@rbee/common'
import { chatHistoryBytes, toChatHistory } from './chat-history.js'
import type { ChatTurn } from './engine.js'

const call = (id: string, name = 'get_weather', args: unknown = { city: 'Paris' }) => ({
  id,
  name,
  arguments: args,
})

test('calls and their results go into the model turn that made them, in call order', () => {
  const turns: ChatTurn[] = [
    { role: 'system', text: 'Be brief.' },
    { role: 'user', text: 'Weather in Paris and Rome?' },
    {
      role: 'assistant',
      text: 'Checking.',
      toolCalls: [call('a'), call('b', 'get_weather', { city: 'Rome' })],
    },
    { role: 'tool', callId: 'b', text: 'rain' },
    { role: 'tool', callId: 'a', text: '{"temp": 21}' },
  ]
  assert.deepEqual(toChatHistory(turns), [
    { type: 'system', text: 'Be brief.' },
    { type: 'user', text: 'Weather in Paris and Rome?' },
    {
      type: 'model',
      response: [
        'Checking.',
        {
          type: 'functionCall',
          name: 'get_weather',
          params: { city: 'Paris' },
          result: { temp: 21 },
          startsNewChunk: true,
        },
        {
          type: 'functionCall',
          name: 'get_weather',
          params: { city: 'Rome' },
          result: 'rain',
          startsNewChunk: false,
        },
      ],
    },
  ])
})

test('what the assistant says after the results continues its turn; a new user turn asks for a new one', () => {
  const turns: ChatTurn[] = [
    { role: 'user', text: 'Weather?' },
    { role: 'assistant', text: '', toolCalls: [call('a')] },
    { role: 'tool', callId: 'a', text: 'sunny' },
    { role: 'assistant', text: 'It is sunny.', toolCalls: [] },
    { role: 'user', text: 'Thanks' },
  ]
  const history = toChatHistory(turns)
  assert.equal(history.length, 4)
  assert.deepEqual(history[1], {
    type: 'model',
    response: [
      {
        type: 'functionCall',
        name: 'get_weather',
        params: { city: 'Paris' },
        result: 'sunny',
        startsNewChunk: true,
      },
      'It is sunny.',
    ],
  })
  assert.deepEqual(history[3], { type: 'model', response: [] })
})

test('a chat that ends with tool results is continued, not answered anew', () => {
  const history = toChatHistory([
    { role: 'user', text: 'Weather?' },
    { role: 'assistant', text: '', toolCalls: [call('a')] },
    { role: 'tool', callId: 'a', text: 'sunny' },
  ])
  assert.equal(history.length, 2)
  assert.equal(history[1]?.type, 'model')
})

test('a tool turn without an id answers the first call still waiting (as Ollama sends them)', () => {
  const history = toChatHistory([
    { role: 'user', text: 'x' },
    { role: 'assistant', text: '', toolCalls: [call('a'), call('b')] },
    { role: 'tool', callId: undefined, text: 'first' },
    { role: 'tool', callId: undefined, text: 'second' },
  ])
  const model = history[1]
  assert.ok(model?.type === 'model')
  assert.deepEqual(
    model.response.map((r) => (typeof r === 'object' && r.type === 'functionCall' ? r.result : r)),
    ['first', 'second'],
  )
})

test('an unanswered call or an answer to no call is a 400 naming messages', () => {
  for (const turns of [
    [
      { role: 'assistant', text: '', toolCalls: [call('a')] },
      { role: 'user', text: 'and?' },
    ],
    [
      { role: 'user', text: 'x' },
      { role: 'tool', callId: 'z', text: 'y' },
    ],
  ] as ChatTurn[][]) {
    assert.throws(
      () => toChatHistory(turns),
      (err) => err instanceof RbeeError && err.status === 400 && /messages/.test(err.message),
    )
  }
})

test('the byte count covers text, call arguments and results', () => {
  const history = toChatHistory([
    { role: 'user', text: 'ab' },
    { role: 'assistant', text: 'c', toolCalls: [call('a', 'f', { x: 1 })] },
    { role: 'tool', callId: 'a', text: 'héllo' },
  ])
  // 'ab' + 'c' + 'f' + '{"x":1}' + 'héllo'
  assert.equal(chatHistoryBytes(history), 2 + 1 + 1 + 7 + 6)
})
