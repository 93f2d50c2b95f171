import { startWorker } from '@rbee/testing'
const w = await startWorker({ args: ['--ctx-size', '2048'] })
for (const [path, body] of [['/v1/infer', { prompt: 'again', max_tokens: 1800, temperature: 0 }], ['/v1/infer', { prompt: 'a long answer', max_tokens: 1900, temperature: 0 }], ['/v1/chat/completions', { model: 'tiny', messages: [{ role: 'user', content: 'a long one' }], max_tokens: 1800, temperature: 0 }], ['/v1/chat/completions', { model: 'tiny', messages: [{ role: 'user', content: 'go' }], max_tokens: 1500, temperature: 0 }]]) {
  const r = await (await fetch(w.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).text()
  console.log(path, body.prompt ?? body.messages[0].content, r.slice(-200).replace(/\n/g, ' '))
}
await w.close()
