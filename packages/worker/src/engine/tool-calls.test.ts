import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ChatMLChatWrapper, type Tokenizer } from 'node-llama-cpp'
import type { ToolCallEvent, ToolSpec } from './engine.js'
import { MAX_PARALLEL_TOOL_CALLS, planTools, ToolCallStream, ToolChoiceChatWrapper } from './tool-calls.js'

const tools: ToolSpec[] = [
  {
    name: 'get_weather',
    description: 'The weather of a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } } },
  },
  { name: 'ping', description: 'Checks the line' },
]
const history = [
  { type: 'user' as const, text: 'Weather?' },
  { type: 'model' as const, response: [] },
]
/** A stand-in tokenizer (one token per character): ToolCallStream only counts with it. */
const charTokenizer = ((text: string) => [...text]) as unknown as Tokenizer

function stream() {
  const events: ToolCallEvent[] = []
  const tokens: number[] = []
  const s = new ToolCallStream(
    (e) => events.push(e),
    (n) => tokens.push(n),
    charTokenizer,
  )
  return { s, events, tokens }
}

test('a streamed call is its start, then its arguments without the grammar’s closing line breaks', () => {
  const { s, events, tokens } = stream()
  const chunk = (paramsChunk: string, done = false) =>
    s.paramsChunk({ callIndex: 0, functionName: 'get_weather', paramsChunk, done })
  for (const piece of ['{', '"city"', ':', ' "a\n', 'b"', '}\n', '\n', '\n', '\n']) chunk(piece)
  s.called({ functionName: 'get_weather', params: { city: 'a\nb' } })
  assert.equal(events[0]?.type, 'start')
  const args = events.flatMap((e) => (e.type === 'arguments' ? [e.text] : [])).join('')
  // A line break inside the JSON passes once text follows it; the four at the end never do.
  assert.equal(args, '{"city": "a\nb"}')
  assert.deepEqual(
    s.calls.map((c) => [c.name, c.arguments]),
    [['get_weather', '{"city": "a\nb"}']],
  )
  assert.match(s.calls[0]!.id, /^call_[0-9a-f]{24}$/)
  // 'get_weather' and its line break, then one per chunk.
  assert.equal(
    tokens.reduce((a, b) => a + b, 0),
    'get_weather'.length + 1 + 9,
  )
})

test('a call of a function without parameters gets "{}" as its arguments; an unfinished call is not kept', () => {
  const { s, events } = stream()
  s.called({ functionName: 'ping', params: undefined })
  s.paramsChunk({ callIndex: 1, functionName: 'get_weather', paramsChunk: '{"ci', done: false })
  assert.deepEqual(
    events.map((e) => (e.type === 'start' ? `start ${e.index} ${e.name}` : `args ${e.index} ${e.text}`)),
    ['start 0 ping', 'args 0 {}', 'start 1 get_weather', 'args 1 {"ci'],
  )
  assert.deepEqual(
    s.calls.map((c) => c.name),
    ['ping'],
  )
})

test('tool choices become node-llama-cpp functions, a wrapper and a limit on calls', () => {
  const base = new ChatMLChatWrapper()
  assert.deepEqual(planTools(base, undefined), { wrapper: base, functions: undefined, maxCalls: 0 })
  assert.equal(planTools(base, { tools, mode: 'none', parallel: true }).functions, undefined)
  const auto = planTools(base, { tools, mode: 'auto', parallel: true })
  assert.equal(auto.wrapper, base)
  assert.deepEqual(Object.keys(auto.functions ?? {}), ['get_weather', 'ping'])
  assert.equal(auto.maxCalls, MAX_PARALLEL_TOOL_CALLS)
  const named = planTools(base, { tools, mode: 'required', allowed: ['ping'], parallel: false })
  assert.ok(named.wrapper instanceof ToolChoiceChatWrapper)
  assert.deepEqual(Object.keys(named.functions ?? {}), ['ping'])
  assert.equal(named.maxCalls, 1)
})

test('a required call starts the answer inside a function call, with every tool shown to the model', () => {
  const base = new ChatMLChatWrapper()
  const { wrapper, functions } = planTools(base, {
    tools,
    mode: 'required',
    allowed: ['ping'],
    parallel: true,
  })
  const state = wrapper.generateContextState({ chatHistory: history, availableFunctions: functions })
  assert.deepEqual(state.functionCall, { initiallyEngaged: true, disengageInitiallyEngaged: [] })
  const text = state.contextText.toString()
  assert.match(text, /get_weather/, 'a tool the model may not call is still shown')
  assert.match(text, /ping/)
  // Without functions (LlamaChat's "none"), nothing is shown.
  assert.doesNotMatch(
    wrapper.generateContextState({ chatHistory: history }).contextText.toString(),
    /get_weather/,
  )
  const auto = planTools(base, { tools, mode: 'auto', allowed: ['ping'], parallel: true })
  assert.equal(
    auto.wrapper.generateContextState({ chatHistory: history, availableFunctions: auto.functions })
      .functionCall,
    undefined,
  )
})
