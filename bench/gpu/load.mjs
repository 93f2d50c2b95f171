// Load for the GPU check: streamed OpenAI completions, one at a time or many at once, with the
// time to each request's first token and the tokens every request generated.
import { readSse } from '@rbee/common/base'

let seq = 0

/**
 * A prompt of about `chars` characters, different per request so no prompt cache is shared (the
 * generated models' vocabulary is byte-level: about one token a character).
 */
function prompt(chars) {
  seq++
  const text = `Request ${seq}: the bees carry pollen from flower to flower while the hive keeps count. `
  return text.repeat(Math.ceil(chars / text.length)).slice(0, chars)
}

/**
 * One streamed `/v1/completions` request (a queen's or a worker's).
 * @returns `{ ttftMs, ms, tokens }`; throws on an HTTP error or a stream without usage.
 */
export async function complete(url, model, { maxTokens, promptChars = 100, timeoutMs = 120_000 }) {
  const started = performance.now()
  const res = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model,
      prompt: prompt(promptChars),
      max_tokens: maxTokens,
      temperature: 0.8,
      seed: seq,
      stream: true,
      stream_options: { include_usage: true },
    }),
    signal: AbortSignal.timeout(timeoutMs),
  })
  if (res.status !== 200) throw new Error(`/v1/completions answered ${res.status}: ${await res.text()}`)
  let ttftMs
  let tokens
  for await (const m of readSse(res.body)) {
    if (m.data === '[DONE]') break
    const chunk = JSON.parse(m.data)
    if (chunk.error) throw new Error(`stream error: ${JSON.stringify(chunk.error)}`)
    if (ttftMs === undefined && chunk.choices?.some((c) => c.text)) ttftMs = performance.now() - started
    if (chunk.usage) tokens = chunk.usage.completion_tokens
  }
  if (tokens === undefined) throw new Error('the stream ended without usage')
  return { ttftMs: ttftMs ?? performance.now() - started, ms: performance.now() - started, tokens }
}

/**
 * `n` requests at once. `tokPerS` is every request's tokens over the wall time (prompts, HTTP and
 * scheduling included).
 */
export async function burst(url, model, n, options) {
  const started = performance.now()
  const results = await Promise.all(Array.from({ length: n }, () => complete(url, model, options)))
  const wallMs = performance.now() - started
  const tokens = results.reduce((a, r) => a + r.tokens, 0)
  const ttfts = results.map((r) => Math.round(r.ttftMs))
  return {
    concurrency: n,
    wall_ms: Math.round(wallMs),
    tokens,
    tok_per_s: Math.round((tokens / wallMs) * 1000),
    ttft_ms: ttfts,
    ttft_max_ms: Math.max(...ttfts),
  }
}

/**
 * Aggregate tokens/s at each concurrency, `rounds` bursts each (the median is reported), and the
 * ratios to one request at a time.
 */
export async function throughput(url, model, { concurrencies, rounds, maxTokens }) {
  const out = {}
  for (const c of concurrencies) {
    const runs = []
    for (let r = 0; r < rounds; r++) runs.push(await burst(url, model, c, { maxTokens }))
    const rates = runs.map((x) => x.tok_per_s).sort((a, b) => a - b)
    out[c] = {
      tok_per_s: rates[Math.floor(rates.length / 2)],
      rounds: rates,
      ttft_max_ms: Math.max(...runs.map((x) => x.ttft_max_ms)),
    }
  }
  const one = out[1]?.tok_per_s
  for (const c of concurrencies) if (one) out[c].x_one = Math.round((out[c].tok_per_s / one) * 100) / 100
  return out
}
