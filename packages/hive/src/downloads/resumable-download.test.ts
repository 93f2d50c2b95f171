import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { RbeeError } from '@rbee/common'
import { collectGarbageEvery, LocalHub } from '@rbee/testing'
import { type ResumableDownloadOptions, resumableDownload } from './resumable-download.js'

let hub: LocalHub
let dir: string
const file = randomBytes(200 * 1024)
const MiB = 1024 * 1024

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rbee-resumable-'))
  hub = await LocalHub.start()
  hub.addRepo('acme', 'longer', { 'm.gguf': file })
  hub.addRepo('acme', 'resized', { 'm.gguf': file })
  hub.addRepo('acme', 'gzip', { 'm.gguf': file })
  hub.addRepo('acme', 'stuck', { 'm.gguf': file })
  hub.addRepo('acme', 'drip', { 'm.gguf': file })
  hub.fault('acme', 'longer', 'm.gguf', { extraBytes: 64 * MiB })
  hub.fault('acme', 'gzip', 'm.gguf', { gzipInflatesTo: 64 * MiB })
  hub.fault('acme', 'stuck', 'm.gguf', { stallAtByte: 64 * 1024 })
  hub.fault('acme', 'drip', 'm.gguf', { dripEveryMs: 20 })
})

after(async () => {
  await hub?.close()
  await rm(dir, { recursive: true, force: true })
})

function options(repo: string, o: Partial<ResumableDownloadOptions> = {}): ResumableDownloadOptions {
  return {
    url: hub.cdnUrlOf('acme', repo, 'm.gguf'),
    headers: {},
    dest: join(dir, `${repo}.part`),
    expectedSize: file.length,
    signal: new AbortController().signal,
    onProgress: () => {},
    onRetry: () => {},
    retryInitialMs: 10,
    httpError: (status) => new RbeeError('RBEE_DOWNLOAD_FAILED', `HTTP ${status}`),
    ...o,
  }
}

async function sizeOnDisk(path: string): Promise<number | undefined> {
  return stat(path).then(
    (s) => s.size,
    () => undefined,
  )
}

/** Settles like `p`, or fails the test after `ms` (a download that hangs must not hang the suite). */
function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still waiting after ${ms} ms`)), ms)
  })
  return Promise.race([p, limit]).finally(() => clearTimeout(timer))
}

test('a body longer than the size the hub lists is refused, and nothing past that size is written', async () => {
  const o = options('longer')
  await assert.rejects(within(20_000, resumableDownload(o)), (err: unknown) => {
    assert.ok(err instanceof RbeeError, String(err))
    assert.equal(err.code, 'RBEE_DOWNLOAD_REFUSED')
    assert.match(err.message, /sent more than the 204800 bytes the hub lists for the file/)
    return true
  })
  assert.equal(await sizeOnDisk(o.dest), file.length)
  assert.ok(hub.bytesServed < 32 * MiB, `the transfer was cut short (${hub.bytesServed} bytes served)`)
})

test('an answer announcing another size than the hub lists is refused before a byte is written', async () => {
  const o = options('resized', { expectedSize: file.length - 1 })
  await assert.rejects(resumableDownload(o), (err: unknown) => {
    assert.ok(err instanceof RbeeError && err.code === 'RBEE_DOWNLOAD_REFUSED', String(err))
    assert.match(
      err.message,
      /announced 204800 bytes \(Content-Length\) for a file the hub lists at 204799 bytes/,
    )
    return true
  })
  assert.equal(await sizeOnDisk(o.dest), undefined)
})

test('a gzip-encoded answer is refused without writing the inflated bytes, and identity is what was asked for', async () => {
  const o = options('gzip')
  const from = hub.requests.length
  await assert.rejects(within(20_000, resumableDownload(o)), (err: unknown) => {
    assert.ok(err instanceof RbeeError && err.code === 'RBEE_DOWNLOAD_REFUSED', String(err))
    assert.match(err.message, /Content-Encoding: gzip/)
    return true
  })
  assert.equal(await sizeOnDisk(o.dest), undefined)
  assert.deepEqual(
    hub.requests.slice(from).map((r) => r.acceptEncoding),
    ['identity'],
  )
})

test('a transfer that stalls mid-body fails within the stall timeout, with garbage collected while it waits', async () => {
  const stopGc = collectGarbageEvery(10)
  const started = performance.now()
  const retries: string[] = []
  try {
    const o = options('stuck', { stallTimeoutMs: 300, maxAttempts: 2, onRetry: (r) => retries.push(r.error) })
    await assert.rejects(within(10_000, resumableDownload(o)), (err: unknown) => {
      assert.ok(err instanceof RbeeError && err.code === 'RBEE_DOWNLOAD_FAILED', String(err))
      assert.match(
        err.message,
        /after 2 attempts in a row \(less than 16384 bytes in 300 ms\); 65536 bytes are kept/,
      )
      return true
    })
  } finally {
    stopGc()
  }
  const ms = performance.now() - started
  assert.deepEqual(retries, ['less than 16384 bytes in 300 ms'])
  assert.ok(ms < 2000, `two stalls of 300 ms took ${Math.round(ms)} ms`)
})

test('a server that drips a byte now and then, never quiet for a whole stall period, fails like a stalled one', async () => {
  const started = performance.now()
  const o = options('drip', { stallTimeoutMs: 300, maxAttempts: 1 })
  await assert.rejects(within(10_000, resumableDownload(o)), (err: unknown) => {
    assert.ok(err instanceof RbeeError && err.code === 'RBEE_DOWNLOAD_FAILED', String(err))
    assert.match(err.message, /\(less than 16384 bytes in 300 ms\)/)
    return true
  })
  const ms = performance.now() - started
  assert.ok(ms < 1500, `failed after ${Math.round(ms)} ms`)
})
