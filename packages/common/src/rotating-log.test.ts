import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { RotatingLog } from './rotating-log.js'

test('a worker log rotates by size, keeps a bounded number of files, and remembers its last lines', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rbee-log-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const log = new RotatingLog({ path: join(dir, 'w.log'), maxBytes: 100, keep: 2, tailLines: 3 })
  for (let i = 0; i < 20; i++) log.write(`line ${String(i).padStart(2, '0')} ${'x'.repeat(20)}`)
  log.close()
  assert.deepEqual((await readdir(dir)).sort(), ['w.log', 'w.log.1', 'w.log.2'])
  const current = await readFile(join(dir, 'w.log'), 'utf8')
  assert.ok(Buffer.byteLength(current) <= 100)
  assert.match(current, /line 19/)
  assert.match(await readFile(join(dir, 'w.log.1'), 'utf8'), /line 1[0-6]/)
  assert.deepEqual(
    log.tail(5).map((l) => l.slice(0, 7)),
    ['line 17', 'line 18', 'line 19'],
  )
  log.write('after close is kept in memory only')
  assert.equal(log.tail(1)[0], 'after close is kept in memory only')
})

test('a log reopened after a restart appends to the same file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rbee-log-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const a = new RotatingLog({ path: join(dir, 'w.log') })
  a.write('first run')
  a.close()
  const b = new RotatingLog({ path: join(dir, 'w.log') })
  b.write('second run')
  b.close()
  assert.equal(await readFile(join(dir, 'w.log'), 'utf8'), 'first run\nsecond run\n')
})
