import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { openModelFile } from './model-file.js'

test('only a regular file is opened: a FIFO, a directory and a device are refused at once', {
  timeout: 10_000,
}, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rbee-model-file-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const fifo = join(dir, 'pipe.gguf')
  execFileSync('mkfifo', [fifo])
  const started = performance.now()
  for (const path of [fifo, dir, '/dev/zero']) {
    await assert.rejects(openModelFile(path), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'RBEE_MODEL_INVALID')
      assert.match(err.message, /is not a regular file/)
      return true
    })
  }
  assert.ok(performance.now() - started < 1000, 'no wait for a FIFO writer')
  await assert.rejects(openModelFile(join(dir, 'absent.gguf')), { code: 'RBEE_MODEL_NOT_FOUND' })
  await writeFile(join(dir, 'x.gguf'), 'x')
  const handle = await openModelFile(join(dir, 'x.gguf'))
  assert.equal((await handle.stat()).size, 1)
  await handle.close()
})
