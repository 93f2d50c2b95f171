import { getLlama, LlamaCompletion } from 'node-llama-cpp'
const llama = await getLlama({ gpu: false })
const path = process.argv[2]
const model = await llama.loadModel({ modelPath: path })
for (const threads of [1, 2]) for (const opts of [{ temperature: 0 }, { temperature: 1, seed: 1 }, { temperature: 2, seed: 7, topK: 0, topP: 1 }]) {
  const ctx = await model.createContext({ contextSize: 2048, threads })
  const seq = ctx.getSequence()
  const comp = new LlamaCompletion({ contextSequence: seq })
  let n = 0
  const t0 = performance.now()
  await comp.generateCompletion('Hello the world', { maxTokens: 200, ...opts, onToken: (ts) => { n += ts.length } })
  const dt = (performance.now() - t0) / 1000
  console.log(threads, JSON.stringify(opts), n, (n / dt).toFixed(1), 'tok/s')
  await ctx.dispose()
}
await llama.dispose()
