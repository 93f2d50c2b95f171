import { ensureBuiltinModel, BENCH_MODEL_SPEC, TINY_MODEL_SPEC } from './dist/index.js'
import { getLlama, LlamaCompletion, LlamaChatSession, resolveChatWrapper, JinjaTemplateChatWrapper } from 'node-llama-cpp'
let t = performance.now()
const bench = await ensureBuiltinModel('/tmp/rbee-models', BENCH_MODEL_SPEC)
console.log('ensure bench ms (first)', Math.round(performance.now() - t))
t = performance.now()
await ensureBuiltinModel('/tmp/rbee-models', BENCH_MODEL_SPEC)
console.log('ensure bench ms (memoized, up to date)', Math.round(performance.now() - t))
const tiny = await ensureBuiltinModel('/tmp/rbee-models', TINY_MODEL_SPEC)
const llama = await getLlama({ gpu: false })
console.log('cpuMathCores', llama.cpuMathCores, 'maxThreads', llama.maxThreads)
for (const path of [tiny, bench]) {
  const model = await llama.loadModel({ modelPath: path })
  const ctx = await model.createContext({ contextSize: 4096, threads: 2 })
  const seq = ctx.getSequence()
  const comp = new LlamaCompletion({ contextSequence: seq })
  // warm-up
  await comp.generateCompletion('Hi', { maxTokens: 8, temperature: 1, seed: 1 })
  seq.clearHistory && await seq.clearHistory()
  let n = 0
  const t0 = performance.now()
  const r = await comp.generateCompletionWithMeta('Hello the world', { maxTokens: 1024, temperature: 2, seed: 7, topK: 0, topP: 1, onToken: (ts) => { n += ts.length } })
  const dt = (performance.now() - t0) / 1000
  const bad = [...r.response].filter((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) > 0x7e).length
  console.log(path, 'tokens', n, r.metadata.stopReason, 'tok/s', (n / dt).toFixed(1), 'bad chars', bad, 'threads', ctx.currentThreads)
  const cw = resolveChatWrapper(model)
  console.log('auto wrapper', cw?.wrapperName, cw?.constructor.name)
  await seq.clearHistory()
  const session = new LlamaChatSession({ contextSequence: seq })
  console.log('session wrapper', session.chatWrapper.wrapperName)
  const a = await session.promptWithMeta('What is the capital of France?', { maxTokens: 48, temperature: 1, seed: 3 })
  console.log('chat', a.stopReason, JSON.stringify(a.responseText))
  session.dispose()
  await seq.clearHistory()
  const session2 = new LlamaChatSession({ contextSequence: ctx.getSequence ? seq : seq, chatWrapper: new JinjaTemplateChatWrapper({ template: model.fileInfo.metadata.tokenizer.chat_template }) })
  const b = await session2.promptWithMeta('Say hi', { maxTokens: 48, temperature: 2, seed: 3 })
  console.log('jinja chat', b.stopReason, JSON.stringify(b.responseText))
  const hist = session2.chatWrapper.generateContextState({ chatHistory: session2.getChatHistory() })
  console.log('ctx text', JSON.stringify(hist.contextText.toString()))
  session2.dispose()
  await ctx.dispose(); await model.dispose()
}
await llama.dispose()
