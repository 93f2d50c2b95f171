import { ensureBuiltinModel, readGgufHeader, TINY_MODEL_SPEC } from './dist/index.js'
import { getLlama, LlamaCompletion } from 'node-llama-cpp'
let t = performance.now()
const path = await ensureBuiltinModel('/tmp/rbee-models')
console.log('ensure ms', performance.now() - t)
const h = await readGgufHeader(path)
console.log({ ...h, metadata: undefined, tensors: h.tensors.length })
const llama = await getLlama({ gpu: false })
const model = await llama.loadModel({ modelPath: path })
const ctx = await model.createContext({ contextSize: 2048 })
const seq = ctx.getSequence()
const comp = new LlamaCompletion({ contextSequence: seq })
for (const temperature of [1, 2]) {
  let n = 0
  const r = await comp.generateCompletionWithMeta('Hello the world', { maxTokens: 64, temperature, seed: 42, topK: 0, topP: 1, onToken: (ts) => { n += ts.length } })
  console.log(temperature, n, r.metadata, JSON.stringify(r.response))
}
const toks = model.tokenize('Hello the world héllo 🐝\n<|im_start|>')
console.log(toks, toks.map(t => model.detokenize([t])), JSON.stringify(model.detokenize(toks)))
console.log(model.tokenize('<|im_start|>x', true))
await llama.dispose()
