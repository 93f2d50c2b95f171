import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { type RerankResponse, RerankResponseSchema } from '@rbee/contracts'
import { describeRerankerModel, encodeGguf, TINY_RERANKER_SPEC } from '@rbee/gguf'
import { LocalHub, ollamaRefusal, type StartedQueen, startQueen, tinyModelPath, waitFor } from '@rbee/testing'
import { Ollama, type ProgressResponse } from 'ollama'

const RERANKER = encodeGguf(describeRerankerModel(TINY_RERANKER_SPEC))

const norm = (v: number[]): number => Math.sqrt(v.reduce((s, x) => s + x * x, 0))

// One real queen-rbee (its local hive spawns real workers on the tiny models) and a local stand-in
// for the Hugging Face hub that serves the tiny reranker. The official `ollama` client talks to
// the queen unchanged. Tests run in order: the pull brings the reranker the rerank test uses.
describe('the Ollama API and rerank on queen-rbee', () => {
  let hub: LocalHub
  let queen: StartedQueen
  let ollama: Ollama
  const rerank = async (body: unknown, path = '/v1/rerank'): Promise<Response> =>
    fetch(`${queen.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })

  before(async () => {
    hub = await LocalHub.start()
    hub.addRepo('rbee', 'tiny-rerank-GGUF', { 'tiny-rerank.gguf': RERANKER })
    queen = await startQueen({ env: { HF_ENDPOINT: hub.url } })
    ollama = new Ollama({ host: queen.url })
  })
  after(async () => {
    await queen?.close()
    await hub?.close()
  })

  test('the ollama client reads the version and lists the catalog; HEAD / answers as Ollama does', async () => {
    const version = await ollama.version()
    assert.match(version.version, /^\d+\.\d+\.\d+$/)
    assert.equal((await fetch(queen.url, { method: 'HEAD' })).status, 200)
    const { models } = await ollama.list()
    const tiny = models.find((m) => m.name === 'tiny')
    assert.ok(tiny, JSON.stringify(models))
    assert.equal(tiny.model, 'tiny')
    // The digest is the file's sha256 (the built-in model as this checkout generates it).
    const sha256 = createHash('sha256')
      .update(await readFile(await tinyModelPath()))
      .digest('hex')
    assert.equal(tiny.digest, sha256)
    assert.ok(tiny.size > 100_000)
    assert.ok(!Number.isNaN(Date.parse(String(tiny.modified_at))))
    const d = tiny.details
    assert.deepEqual(
      [d.format, d.family, d.parameter_size, d.quantization_level],
      ['gguf', 'llama', '125K', 'F32'],
    )
  })

  test("show answers from the file's GGUF header: chat template, model_info, details", async () => {
    const show = await ollama.show({ model: 'tiny:latest' })
    assert.match(show.template, /<\|im_start\|>/)
    assert.match(show.modelfile, /^FROM tiny$/m)
    const info = show.model_info as unknown as Record<string, unknown>
    assert.equal(info['general.architecture'], 'llama')
    assert.equal(info['llama.context_length'], 2048)
    assert.equal(info['tokenizer.ggml.tokens'], null, 'arrays are null, as Ollama sends them')
    assert.equal(info['tokenizer.chat_template'], undefined, 'the template is in `template`')
    assert.equal(show.details.quantization_level, 'F32')
    assert.deepEqual(show.capabilities, ['completion', 'embedding'])
  })

  test('embed runs on a worker: normalized vectors, dimensions, truncation; keep_alive sets when it expires', async () => {
    const e = await ollama.embed({ model: 'tiny', input: ['a bee', 'a hive'], keep_alive: '1h' })
    assert.equal(e.model, 'tiny')
    assert.equal(e.embeddings.length, 2)
    for (const v of e.embeddings) {
      assert.equal(v.length, 64)
      assert.ok(Math.abs(norm(v) - 1) < 1e-6, `norm ${norm(v)}`)
    }
    assert.ok(e.prompt_eval_count >= 2 && e.total_duration > 0)
    const ps = (await ollama.ps()).models.find((m) => m.name === 'tiny')
    const expires = Date.parse(String(ps?.expires_at))
    assert.ok(Math.abs(expires - (Date.now() + 3_600_000)) < 60_000, `expires_at ${ps?.expires_at}`)
    assert.ok((ps?.size ?? 0) > 0)

    const cut = await ollama.embed({ model: 'tiny', input: 'a bee', dimensions: 8, keep_alive: -1 })
    assert.equal(cut.embeddings[0]?.length, 8)
    assert.ok(Math.abs(norm(cut.embeddings[0]!) - 1) < 1e-6)
    const forever = (await ollama.ps()).models.find((m) => m.name === 'tiny')
    assert.ok(Date.parse(String(forever?.expires_at)) > Date.parse('9000-01-01'), String(forever?.expires_at))

    const old = await ollama.embeddings({ model: 'tiny', prompt: 'a bee' })
    assert.equal(old.embedding.length, 64)
    assert.ok(Math.abs(norm(old.embedding) - 1) > 1e-3, 'the older endpoint does not normalize')

    // An embedding input gets at most 2048 tokens of context: this one is longer.
    const long = 'bee '.repeat(3000)
    const refused = await ollamaRefusal(ollama.embed({ model: 'tiny', input: long, truncate: false }))
    assert.equal(refused.status, 400)
    const room = /the input is \d+ tokens or more and cannot fit the (\d+) tokens/.exec(refused.message)
    assert.ok(room, refused.message)
    const truncated = await ollama.embed({ model: 'tiny', input: long })
    assert.equal(truncated.prompt_eval_count, Number(room[1]) - 1, 'truncated to what fits')
    const small = await ollamaRefusal(
      ollama.embed({ model: 'tiny', input: long, truncate: false, options: { num_ctx: 64 } }),
    )
    assert.match(small.message, /the 62 tokens an embedding input may have here/)
  })

  test('pull downloads from the hub with progress lines; the model is then listed and reranks', async () => {
    const lines: ProgressResponse[] = []
    for await (const p of await ollama.pull({ model: 'hf.co/rbee/tiny-rerank-GGUF', stream: true }))
      lines.push(p)
    const digest = `sha256:${hub.sha256('rbee', 'tiny-rerank-GGUF', 'tiny-rerank.gguf')}`
    assert.deepEqual(lines[0], { status: 'pulling manifest' })
    const downloading = lines.filter((l) => l.status === `downloading ${digest}`)
    assert.ok(downloading.length >= 2, JSON.stringify(lines))
    for (const l of downloading) assert.deepEqual([l.digest, l.total], [digest, RERANKER.length])
    assert.deepEqual(
      [downloading[0]?.completed, downloading.at(-1)?.completed],
      [0, RERANKER.length],
      'from nothing to the whole file',
    )
    assert.deepEqual(
      lines.slice(-2).map((l) => l.status),
      ['verifying sha256 digest', 'success'],
    )
    assert.ok((await ollama.list()).models.some((m) => m.name === 'tiny-rerank'))
    assert.deepEqual(await ollama.pull({ model: 'hf.co/rbee/tiny-rerank-GGUF', stream: false }), {
      status: 'success',
    })

    // Routed like embeddings: the queen spawns a worker of the reranker on the first request.
    const documents = ['honey', { text: 'the hive keeps count' }, 'cars']
    const res = await rerank({ model: 'tiny-rerank', query: 'what do bees make?', documents })
    assert.equal(res.status, 200, await res.clone().text())
    assert.ok(res.headers.get('x-rbee-worker'), 'a worker answered')
    const body: RerankResponse = RerankResponseSchema.parse(await res.json())
    const order = body.results.map((r) => r.index)
    assert.deepEqual([...order].sort(), [0, 1, 2])
    assert.equal(body.results.find((r) => r.index === 1)?.document?.text, 'the hive keeps count')
    const alias = await rerank(
      { model: 'tiny-rerank', query: 'what do bees make?', documents, top_n: 1 },
      '/rerank',
    )
    assert.deepEqual(RerankResponseSchema.parse(await alias.json()).results, body.results.slice(0, 1))
  })

  test('a pull whose client goes away cancels the download: the partial file is removed', async () => {
    hub.addRepo('rbee', 'stalls-GGUF', { 'stalls.gguf': RERANKER })
    hub.fault('rbee', 'stalls-GGUF', 'stalls.gguf', { stallAfterBytes: 64 * 1024 })
    const partial = join(queen.home, 'models', '.partial')
    const parts = async (): Promise<string[]> =>
      (await readdir(partial).catch(() => [])).filter((f) => f.endsWith('.part'))
    const stream = await ollama.pull({ model: 'hf.co/rbee/stalls-GGUF', stream: true })
    const seen: ProgressResponse[] = []
    const reading = (async () => {
      for await (const p of stream) seen.push(p)
    })()
    await hub.stalled()
    await waitFor('the partial file of the transfer', async () => (await parts()).length === 1)
    stream.abort()
    await assert.rejects(reading)
    assert.ok(
      seen.some((p) => p.status.startsWith('downloading')),
      JSON.stringify(seen),
    )
    await waitFor('the hive to drop the partial download', async () => (await parts()).length === 0)
    assert.ok(!(await ollama.list()).models.some((m) => m.name === 'stalls'))
  })

  test('a refused request says why, in the shape of its API', async () => {
    const noHead = await rerank({ model: 'tiny', query: 'q', documents: ['a'] })
    assert.equal(noHead.status, 400)
    const openAi = (await noHead.json()) as { error: { message: string; param: string } }
    assert.match(openAi.error.message, /cannot rank documents: it has no classification head/)
    assert.equal(openAi.error.param, 'model')

    const unknown = await ollamaRefusal(ollama.show({ model: 'nope' }))
    assert.deepEqual(
      [unknown.status, unknown.message],
      [404, "model 'nope' not found in any online hive's catalog"],
    )
    const option = await ollamaRefusal(
      ollama.embed({ model: 'tiny', input: 'a', options: { temperature: 0.5 } }),
    )
    assert.deepEqual(
      [option.status, option.message],
      [400, 'invalid request body: options.temperature: not supported for embeddings'],
    )
    const registry = await ollamaRefusal(ollama.pull({ model: 'llama3.2' }))
    assert.equal(registry.status, 400)
    assert.match(registry.message, /rbee pulls from Hugging Face only/)
    const missing = await ollamaRefusal(ollama.pull({ model: 'hf.co/rbee/nope', stream: true }))
    assert.equal(missing.status, 404)
    const builtin = await ollamaRefusal(ollama.delete({ model: 'tiny' }))
    assert.deepEqual(
      [builtin.status, builtin.message],
      [409, 'tiny is the built-in model and cannot be deleted'],
    )
    const inUse = await ollamaRefusal(ollama.delete({ model: 'tiny-rerank:latest' }))
    assert.equal(inUse.status, 409)
    assert.match(inUse.message, /model tiny-rerank is in use by worker/)
    const raw = await fetch(`${queen.url}/api/embed`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'absent', input: 'a' }),
    })
    assert.equal(raw.status, 404)
    const body = (await raw.json()) as { error: unknown; code: unknown }
    assert.equal(typeof body.error, 'string')
    assert.equal(body.code, 'RBEE_MODEL_NOT_FOUND')
  })
})
