import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { MAX_JSON_DEPTH } from '@rbee/common'
import { type StartedWorker, startWorker } from '@rbee/testing'

let worker: StartedWorker
before(async () => {
  worker = await startWorker()
})
after(() => worker.close())

const post = (path: string, body: string): Promise<Response> =>
  fetch(`${worker.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })

describe('worker JSON nesting limit', () => {
  const deep = '['.repeat(2_000_000) + ']'.repeat(2_000_000)

  test('two million levels in an unknown field get a 400 naming the limit on every inference route', async () => {
    const bodies: Array<[string, string]> = [
      ['/v1/chat/completions', `{"model":"tiny","messages":[{"role":"user","content":"hi"}],"x":${deep}}`],
      ['/v1/completions', `{"model":"tiny","prompt":"hi","x":${deep}}`],
      ['/v1/embeddings', `{"model":"tiny","input":"hi","x":${deep}}`],
      ['/v1/infer', `{"prompt":"hi","x":${deep}}`],
    ]
    for (const [path, body] of bodies) {
      const res = await post(path, body)
      const err = ((await res.json()) as { error: { code: string; message: string } }).error
      assert.equal(res.status, 400, path)
      assert.equal(err.code, 'RBEE_BAD_REQUEST', path)
      assert.match(err.message, new RegExp(`deeper than ${MAX_JSON_DEPTH} levels`), path)
    }
  })

  test('after refusing them, the worker still answers', async () => {
    const res = await post(
      '/v1/chat/completions',
      '{"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":2}',
    )
    assert.equal(res.status, 200, await res.clone().text())
    assert.equal(((await res.json()) as { object: string }).object, 'chat.completion')
  })
})
