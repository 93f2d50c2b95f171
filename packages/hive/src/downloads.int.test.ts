import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm, stat, statfs } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { type ModelEntry, ModelEntrySchema } from '@rbee/contracts'
import {
  canMountTmpfs,
  LocalHub,
  mountTmpfs,
  payloadOf,
  postJob,
  readJob,
  runJob,
  type StartedHive,
  startHive,
  summarize,
  type Tmpfs,
  tinyModelPath,
  waitFor,
} from '@rbee/testing'

const HF_TOKEN = 'hf_test_token_for_gated_repos'
let hub: LocalHub
let hive: StartedHive
let tiny: Buffer

before(async () => {
  tiny = await readFile(await tinyModelPath())
  hub = await LocalHub.start()
  // Quantization names as a real GGUF repo lists them; every file holds the (real) tiny model.
  hub.addRepo('acme', 'tiny-GGUF', {
    'README.md': Buffer.from('# tiny\n'),
    'tiny.F32.gguf': tiny,
    'tiny.Q8_0.gguf': tiny,
    'tiny.Q4_K_M.gguf': tiny,
    'tiny.Q2_K.gguf': tiny,
    'tiny-Q4_K_M-00001-of-00002.gguf': tiny,
  })
  hub.addRepo('acme', 'flaky', { 'flaky.Q4_0.gguf': tiny })
  hub.addRepo('acme', 'corrupt', { 'corrupt.Q4_0.gguf': tiny })
  hub.addRepo('acme', 'slow', { 'slow.Q4_0.gguf': tiny })
  hub.addRepo('acme', 'paused', { 'paused.Q4_0.gguf': tiny })
  hub.addRepo('acme', 'html', { 'page.gguf': Buffer.from('<!doctype html><title>Sign in</title>\n') })
  hub.addRepo('acme', 'endless', { 'endless.Q4_0.gguf': tiny })
  hub.addRepo('acme', 'bomb', { 'bomb.Q4_0.gguf': tiny })
  hub.addRepo('acme', 'silent', { 'silent.Q4_0.gguf': tiny }, { silent: true })
  hub.addRepo('gated', 'tiny', { 'tiny.Q4_K_M.gguf': tiny }, { token: HF_TOKEN })
  hub.addRepo('private', 'other', { 'other.Q4_K_M.gguf': tiny }, { token: 'hf_someone_elses_token' })
  hub.fault('acme', 'flaky', 'flaky.Q4_0.gguf', { dropAfterBytes: Math.floor(tiny.length / 3), times: 2 })
  hub.fault('acme', 'corrupt', 'corrupt.Q4_0.gguf', { corrupt: true })
  hub.fault('acme', 'slow', 'slow.Q4_0.gguf', { stallAfterBytes: 64 * 1024 })
  hub.fault('acme', 'endless', 'endless.Q4_0.gguf', { extraBytes: 300 * 1024 * 1024 })
  hub.fault('acme', 'bomb', 'bomb.Q4_0.gguf', { gzipInflatesTo: 64 * 1024 * 1024 })
  hive = await startHive({
    env: { HF_ENDPOINT: hub.url, HF_TOKEN },
    args: ['--telemetry-interval-ms', '1000'],
  })
})

after(async () => {
  await hive?.close()
  await hub?.close()
})

async function catalogIds(): Promise<string[]> {
  const run = await runJob(hive.url, { operation: 'model_list' })
  return payloadOf<{ models: ModelEntry[] }>(run, 'model_list').models.map((m) => m.id)
}

async function partials(): Promise<string[]> {
  return readdir(join(hive.home, 'models', '.partial')).catch(() => [])
}

test('model_download of a repo picks the best quantization, verifies its sha256 and registers it', async () => {
  const run = await runJob(hive.url, { operation: 'model_download', model: 'hf:acme/tiny-GGUF' })
  assert.equal(run.outcome, 'done', run.message ?? '')
  const entry = ModelEntrySchema.parse(payloadOf(run, 'model'))
  assert.equal(entry.id, 'tiny.Q4_K_M')
  assert.equal(entry.source, 'hf:acme/tiny-GGUF:tiny.Q4_K_M.gguf')
  assert.equal(entry.sha256, hub.sha256('acme', 'tiny-GGUF', 'tiny.Q4_K_M.gguf'))
  assert.equal(entry.path, join(hive.home, 'models', 'hf', 'acme', 'tiny-GGUF', 'tiny.Q4_K_M.gguf'))
  assert.equal((await stat(entry.path)).size, tiny.length)
  assert.equal(entry.architecture, 'llama')
  assert.ok(entry.available && entry.memory_estimate_mb > 0)

  const human = run.narrations.map((n) => n.human)
  assert.ok(
    human.some((h) =>
      /picked tiny\.Q4_K_M\.gguf: the largest of 4 quantizations that fits the \d+ MiB free on cpu:0 /.test(
        h,
      ),
    ),
    human.join('\n'),
  )
  const progress = run.narrations.filter((n) => n.action === 'download_progress')
  assert.ok(progress.length > 0)
  assert.match(progress.at(-1)!.human, /KiB \/ [\d.]+ KiB \(100%\), [\d.]+ [KMG]?i?B\/s/)
  assert.equal(progress.at(-1)!.progress, 1)
  assert.ok(human.some((h) => h.startsWith('sha256 verified')))

  // The token goes to the hub, never to the CDN the hub redirects to.
  const cdn = hub.requests.filter((r) => r.server === 'cdn')
  assert.ok(cdn.length > 0 && cdn.every((r) => r.authorization === undefined))
  assert.ok(
    hub.requests.filter((r) => r.server === 'hub').every((r) => r.authorization === `Bearer ${HF_TOKEN}`),
  )

  const again = await runJob(hive.url, {
    operation: 'model_download',
    model: 'hf:acme/tiny-GGUF:tiny.Q4_K_M.gguf',
  })
  assert.ok(
    again.narrations.some((n) => n.action === 'download_skip'),
    'a second download is a no-op',
  )
  assert.deepEqual(await partials(), [])
})

test('an interrupted download resumes with Range and still matches the hub hash', async (t) => {
  const before = hub.requests.length
  const run = await runJob(hive.url, { operation: 'model_download', model: 'hf:acme/flaky:flaky.Q4_0.gguf' })
  assert.equal(run.outcome, 'done', run.message ?? '')
  const entry = ModelEntrySchema.parse(payloadOf(run, 'model'))
  assert.equal(entry.sha256, hub.sha256('acme', 'flaky', 'flaky.Q4_0.gguf'))
  const gets = hub.requests.slice(before).filter((r) => r.server === 'cdn')
  t.diagnostic(`CDN requests: ${gets.map((r) => r.range ?? 'full').join(', ')}`)
  assert.equal(gets.length, 3, 'two dropped transfers, then the rest')
  assert.equal(gets[0]!.range, undefined)
  const offsets = gets.slice(1).map((r) => Number(/^bytes=(\d+)-$/.exec(r.range ?? '')?.[1]))
  assert.ok(offsets[0]! > 0 && offsets[1]! > offsets[0]!, `resumed at ${offsets.join(', ')}`)
  const retries = run.narrations.filter((n) => n.action === 'download_retry')
  assert.equal(retries.length, 2)
  assert.match(retries[0]!.human, /transfer interrupted at [\d.]+ KiB .*resuming in/)
})

test('a download whose bytes do not match the hub hash is discarded, not registered', async () => {
  const run = await runJob(hive.url, {
    operation: 'model_download',
    model: 'hf:acme/corrupt:corrupt.Q4_0.gguf',
  })
  assert.equal(run.outcome, 'error')
  assert.match(
    run.message ?? '',
    /checksum mismatch for corrupt\.Q4_0\.gguf: got sha256 [0-9a-f]{64}, the hub says [0-9a-f]{64}/,
  )
  assert.ok(!(await catalogIds()).includes('corrupt.Q4_0'))
  assert.deepEqual(await partials(), [])
  await assert.rejects(stat(join(hive.home, 'models', 'hf', 'acme', 'corrupt')))
})

test('cancelling a download removes the partial file and registers nothing', async () => {
  const { status, body } = await postJob(hive.url, { operation: 'model_download', model: 'hf:acme/slow' })
  assert.equal(status, 201)
  const jobId = String(body.job_id)
  const first = await readJob(hive.url, jobId, {
    until: (e) => e.kind === 'narration' && e.narration.action === 'download_progress',
  })
  await hub.stalled(1)
  assert.deepEqual(await partials(), ['slow.Q4_0.part', 'slow.Q4_0.part.json'])
  const del = await fetch(`${hive.url}/v1/jobs/${jobId}`, { method: 'DELETE' })
  assert.equal(del.status, 202)
  const run = summarize(jobId, [
    ...first,
    ...(await readJob(hive.url, jobId, { lastEventId: first.at(-1)!.id })),
  ])
  assert.equal(run.outcome, 'cancelled')
  // Cleanup runs as the download notices the cancellation; it is bounded by a few ms.
  await waitFor('the partial files to be removed', async () => (await partials()).length === 0, 5000, 20)
  assert.ok(!(await catalogIds()).includes('slow.Q4_0'))
})

test('a missing repo or file is a 404 and a gated repo without the right token a 401, each with a clear message', async () => {
  const repo = await runJob(hive.url, { operation: 'model_download', model: 'hf:acme/nope' })
  assert.equal(repo.outcome, 'error')
  assert.match(repo.message ?? '', /has no repo acme\/nope \(HTTP 404\)/)
  const file = await runJob(hive.url, {
    operation: 'model_download',
    model: 'hf:acme/tiny-GGUF:missing.Q4_0.gguf',
  })
  assert.match(file.message ?? '', /has no missing\.Q4_0\.gguf in acme\/tiny-GGUF \(HTTP 404\)/)
  const denied = await runJob(hive.url, { operation: 'model_download', model: 'hf:private/other' })
  assert.match(
    denied.message ?? '',
    /refused access to repo private\/other \(HTTP 401\): the HF_TOKEN given was not accepted/,
  )
  const gated = await runJob(hive.url, { operation: 'model_download', model: 'hf:gated/tiny' })
  assert.equal(gated.outcome, 'done', 'HF_TOKEN opens the gated repo')
  assert.deepEqual(await partials(), [])
})

test('a downloaded file that is not GGUF is refused and removed', async () => {
  const run = await runJob(hive.url, { operation: 'model_download', model: 'hf:acme/html:page.gguf' })
  assert.equal(run.outcome, 'error')
  assert.match(run.message ?? '', /is not a usable GGUF model: .*not a GGUF file/)
  assert.deepEqual(await partials(), [])
  assert.ok(!(await catalogIds()).includes('page'))
})

test('a hub that lists a size and then streams more fails the download; nothing past that size is kept or registered', async () => {
  const served = hub.bytesServed
  const run = await runJob(hive.url, { operation: 'model_download', model: 'hf:acme/endless' })
  assert.equal(run.outcome, 'error')
  assert.match(
    run.message ?? '',
    new RegExp(
      `sent more than the ${tiny.length} bytes the hub lists for the file; the download was stopped`,
    ),
  )
  assert.ok(hub.bytesServed - served < 64 * 1024 * 1024, 'the transfer was cut off, not read to its end')
  assert.deepEqual(await partials(), [])
  assert.ok(!(await catalogIds()).includes('endless.Q4_0'))
  await assert.rejects(stat(join(hive.home, 'models', 'hf', 'acme', 'endless')))
})

test('a gzip-encoded answer is refused before anything is inflated to disk', async () => {
  const run = await runJob(hive.url, { operation: 'model_download', model: 'hf:acme/bomb' })
  assert.equal(run.outcome, 'error')
  assert.match(
    run.message ?? '',
    /Content-Encoding: gzip .*compressed answers are refused, and nothing of this one was written/,
  )
  const progress = run.narrations.filter((n) => n.action === 'download_progress')
  assert.ok(
    progress.every((n) => n.progress === 0),
    'no byte was counted as downloaded',
  )
  assert.deepEqual(await partials(), [])
  assert.ok(!(await catalogIds()).includes('bomb.Q4_0'))
})

test('a hub that never answers fails the download within --hf-timeout-ms', async (t) => {
  const quick = await startHive({ env: { HF_ENDPOINT: hub.url }, args: ['--hf-timeout-ms', '500'] })
  t.after(() => quick.close())
  const started = performance.now()
  const run = await runJob(quick.url, {
    operation: 'model_download',
    model: 'hf:acme/silent:silent.Q4_0.gguf',
  })
  const ms = performance.now() - started
  assert.equal(run.outcome, 'error')
  assert.match(
    run.message ?? '',
    /cannot reach http:\/\/127\.0\.0\.1:\d+ for silent\.Q4_0\.gguf in acme\/silent: no answer within 500 ms/,
  )
  assert.ok(ms < 3000, `the job took ${Math.round(ms)} ms`)
})

test('a hive stopped mid-download keeps the partial file, and the next download resumes it', async (t) => {
  const home = await mkdtemp(join(tmpdir(), 'rbee-hive-resume-'))
  t.after(() => rm(home, { recursive: true, force: true }))
  const env = { HF_ENDPOINT: hub.url }
  hub.fault('acme', 'paused', 'paused.Q4_0.gguf', { stallAfterBytes: 128 * 1024 })
  const first = await startHive({ home, env })
  t.after(() => first.close(1000))
  const stalls = hub.stalls + 1
  const { body } = await postJob(first.url, { operation: 'model_download', model: 'hf:acme/paused' })
  await readJob(first.url, String(body.job_id), {
    until: (e) => e.kind === 'narration' && e.narration.action === 'download_progress',
  })
  await hub.stalled(stalls)
  assert.equal((await first.close()).code, 0)
  const kept = (await stat(join(home, 'models', '.partial', 'paused.Q4_0.part'))).size
  assert.ok(kept > 0, 'the partial file survives the shutdown')

  hub.fault('acme', 'paused', 'paused.Q4_0.gguf', {})
  const second = await startHive({ home, env })
  t.after(() => second.close(1000))
  const before = hub.requests.length
  const run = await runJob(second.url, { operation: 'model_download', model: 'hf:acme/paused' })
  assert.equal(run.outcome, 'done', run.message ?? '')
  assert.equal(
    ModelEntrySchema.parse(payloadOf(run, 'model')).sha256,
    hub.sha256('acme', 'paused', 'paused.Q4_0.gguf'),
  )
  const gets = hub.requests.slice(before).filter((r) => r.server === 'cdn')
  assert.deepEqual(
    gets.map((r) => r.range),
    [`bytes=${kept}-`],
  )
})

test('three concurrent downloads of the same file all succeed with one transfer: the later ones follow the first', async () => {
  hub.addRepo('acme', 'shared', { 'shared.Q4_0.gguf': tiny })
  hub.fault('acme', 'shared', 'shared.Q4_0.gguf', { holdAtByte: 64 * 1024 })
  const before = hub.requests.length
  const stalls = hub.stalls + 1
  const posted = await Promise.all(
    [1, 2, 3].map(() => postJob(hive.url, { operation: 'model_download', model: 'hf:acme/shared' })),
  )
  assert.deepEqual(
    posted.map((p) => p.status),
    [201, 201, 201],
  )
  const ids = posted.map((p) => String(p.body.job_id))
  // Each job is read to its end. Two of them follow the first (or, before followers existed,
  // end at once): the transfer is held until both have.
  let twoSettled!: () => void
  const both = new Promise<void>((r) => {
    twoSettled = r
  })
  let settled = 0
  const runs = ids.map((id) => {
    let seen = false
    const events = readJob(hive.url, id, {
      onEvent: (e) => {
        const follows = e.kind === 'narration' && e.narration.action === 'download_follow'
        if (!seen && (follows || e.kind === 'end')) {
          seen = true
          if (++settled === 2) twoSettled()
        }
      },
    })
    return { id, events }
  })
  await hub.stalled(stalls)
  await both
  hub.release()
  const done = await Promise.all(runs.map(async (r) => summarize(r.id, await r.events)))

  for (const run of done) assert.equal(run.outcome, 'done', `job ${run.job_id}: ${run.message}`)
  const entries = done.map((run) => ModelEntrySchema.parse(payloadOf(run, 'model')))
  assert.deepEqual(new Set(entries.map((e) => e.id)), new Set(['shared.Q4_0']))
  assert.equal(entries[0]!.sha256, hub.sha256('acme', 'shared', 'shared.Q4_0.gguf'))
  const gets = hub.requests.slice(before).filter((r) => r.server === 'cdn' && r.method === 'GET')
  assert.equal(gets.length, 1, 'one transfer for the three jobs')

  const leaders = done.filter((run) => !run.narrations.some((n) => n.action === 'download_follow'))
  assert.equal(leaders.length, 1, 'one job transfers, two follow it')
  for (const run of done.filter((r) => r !== leaders[0])) {
    const follow = run.narrations.find((n) => n.action === 'download_follow')!
    assert.match(
      follow.human,
      new RegExp(`being downloaded by job ${leaders[0]!.job_id}; following its progress`),
    )
    const progress = run.narrations.filter((n) => n.action === 'download_progress')
    assert.equal(progress.at(-1)?.progress, 1, 'a follower hears the transfer to its end')
  }
})

const MiB = 1024 * 1024
const noTmpfs = (await canMountTmpfs()) ? false : 'needs root to mount a small tmpfs'

/** A hive whose models dir is a tmpfs of `sizeBytes`, leaving a 1 MiB margin on downloads. */
async function hiveOnSmallDisk(
  t: { after: (fn: () => Promise<void>) => void },
  sizeBytes: number,
): Promise<{ hive: StartedHive; disk: Tmpfs }> {
  const home = await mkdtemp(join(tmpdir(), 'rbee-hive-disk-'))
  const disk = await mountTmpfs(sizeBytes, join(home, 'models'))
  let small: StartedHive | undefined
  t.after(async () => {
    await small?.close(1000)
    await disk.close()
    await rm(home, { recursive: true, force: true })
  })
  small = await startHive({ home, env: { HF_ENDPOINT: hub.url }, args: ['--download-disk-margin-mb', '1'] })
  return { hive: small, disk }
}

test('a download larger than the free space is refused before any byte is fetched, with the figures and what to free', {
  skip: noTmpfs,
}, async (t) => {
  const { hive: small, disk } = await hiveOnSmallDisk(t, 8 * MiB)
  hub.addRepo('acme', 'big', { 'big.Q4_0.gguf': Buffer.concat([tiny, Buffer.alloc(16 * MiB - tiny.length)]) })
  const before = hub.requests.length
  const run = await runJob(small.url, { operation: 'model_download', model: 'hf:acme/big' })
  assert.equal(run.outcome, 'error')
  assert.match(
    run.message ?? '',
    new RegExp(
      `^RBEE_DISK_FULL: not enough disk space to download big\\.Q4_0\\.gguf from acme/big: it needs 17\\.0 MiB free \\(16\\.0 MiB still to download \\+ 1\\.00 MiB margin\\) on the file system of ${disk.dir}, which has [\\d.]+ MiB free; free at least [\\d.]+ MiB there: delete models you do not need with rbee model rm ID`,
    ),
  )
  const gets = hub.requests.slice(before).filter((r) => r.server === 'cdn')
  assert.deepEqual(gets, [], 'nothing was downloaded')
  assert.ok(!run.narrations.some((n) => n.action === 'download_start'))
  assert.deepEqual(await readdir(join(disk.dir, '.partial')), [])
})

test('a disk that fills up during a download stops it at once, not retried, and the partial file is removed', {
  skip: noTmpfs,
}, async (t) => {
  const { hive: small, disk } = await hiveOnSmallDisk(t, 12 * MiB)
  hub.addRepo('acme', 'filled', {
    'filled.Q4_0.gguf': Buffer.concat([tiny, Buffer.alloc(6 * MiB - tiny.length)]),
  })
  hub.fault('acme', 'filled', 'filled.Q4_0.gguf', { holdAtByte: MiB })
  const before = hub.requests.length
  const stalls = hub.stalls + 1
  const { body } = await postJob(small.url, { operation: 'model_download', model: 'hf:acme/filled' })
  const jobId = String(body.job_id)
  const events = readJob(small.url, jobId)
  await hub.stalled(stalls)
  // The hub has handed 1 MiB to the socket; the hive may not have written all of it yet.
  await waitFor('the hive to write the first MiB', async () => {
    const part = join(small.home, 'models', '.partial', 'filled.Q4_0.part')
    return (await stat(part).catch(() => undefined))?.size === MiB
  })
  // Something else takes the rest of the disk while the transfer waits at 1 MiB.
  const filler = await disk.fill()
  const released = performance.now()
  hub.release()
  const run = summarize(jobId, await events)
  t.diagnostic(`job ended ${Math.round(performance.now() - released)} ms after the disk filled up`)
  assert.equal(run.outcome, 'error')
  assert.match(
    run.message ?? '',
    /^RBEE_DISK_FULL: the disk filled up while downloading filled\.Q4_0\.gguf from acme\/filled \(ENOSPC\): it needs [\d.]+ MiB free \([\d.]+ MiB still to download \+ 1\.00 MiB margin\) on the file system of .*, which has 0 B free; the download was stopped at once \(not retried\) and the [\d.]+ MiB downloaded so far were removed so the disk is not left full; free at least [\d.]+ MiB there: /,
  )
  assert.deepEqual(
    run.narrations.filter((n) => n.action === 'download_retry'),
    [],
  )
  const gets = hub.requests.slice(before).filter((r) => r.server === 'cdn' && r.method === 'GET')
  assert.equal(gets.length, 1, 'one transfer, no retry')
  assert.deepEqual(await readdir(join(disk.dir, '.partial')), [])
  const { bavail, bsize } = await statfs(disk.dir)
  assert.ok(bavail * bsize >= MiB, 'the bytes of the stopped download were given back')
  await rm(filler.path)
})
