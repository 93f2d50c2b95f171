import assert from 'node:assert/strict'
import { copyFile, readdir, readFile, stat } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { after, before, test } from 'node:test'
import { type ModelEntry, ModelEntrySchema, WorkerSpawnResultSchema } from '@rbee/contracts'
import {
  LocalHub,
  payloadOf,
  runJob,
  type StartedHive,
  startHive,
  tinyModelPath,
  tinySplitModelPaths,
} from '@rbee/testing'

// A real hive downloads a model published as two parts (llama.cpp's split format) from the
// stand-in hub, imports another copy, and a real worker loads it through node-llama-cpp, which
// is given the first part and finds the second beside it.
const REPO = 'split-GGUF'
const PART1 = 'tiny-split-F16-00001-of-00002.gguf'
const PART2 = 'tiny-split-F16-00002-of-00002.gguf'

let hub: LocalHub
let hive: StartedHive
let parts: string[]
let sizes: number[]

before(async () => {
  parts = await tinySplitModelPaths(2)
  sizes = await Promise.all(parts.map(async (p) => (await stat(p)).size))
  hub = await LocalHub.start()
  // A smaller whole file beside the split: the choice by memory takes the larger model that fits.
  const whole = await readFile(await tinyModelPath())
  assert.ok(whole.length < sizes[0]! + sizes[1]!)
  hub.addRepo('acme', REPO, {
    [PART1]: await readFile(parts[0]!),
    [PART2]: await readFile(parts[1]!),
    'tiny.Q2_K.gguf': whole,
  })
  hive = await startHive({ env: { HF_ENDPOINT: hub.url } })
})

after(async () => {
  await hive?.close()
  await hub?.close()
})

test('a split model is downloaded whole (every part, progress over the total), estimated over its parts, loaded and answers', async () => {
  const run = await runJob(hive.url, { operation: 'model_download', model: `hf:acme/${REPO}` })
  assert.equal(run.outcome, 'done', run.message ?? '')
  const said = run.narrations.map((n) => n.human)
  assert.ok(
    said.some((h) =>
      /^picked tiny-split-F16-00001-of-00002\.gguf: the largest of 2 quantizations that fits the \d+ MiB free on cpu:0 /.test(
        h,
      ),
    ),
    said.join('\n'),
  )
  assert.ok(
    said.some((h) => /is part 1 of a split model: downloading all 2 parts \([\d.]+ KiB in all\)/.test(h)),
  )
  assert.ok(
    said.some((h) =>
      /^downloading part 2 of 2, tiny-split-F16-00002-of-00002\.gguf of acme\/split-GGUF from the hub/.test(
        h,
      ),
    ),
  )
  const progress = run.narrations.map((n) => n.progress).filter((p): p is number => p !== undefined)
  assert.deepEqual(
    progress,
    [...progress].sort((a, b) => a - b),
    'progress only grows, across parts',
  )
  assert.equal(progress.at(-1), 1)

  const entry = ModelEntrySchema.parse(payloadOf<ModelEntry>(run, 'model'))
  // The choice used the estimate the catalog now records (and the queen places by): the shape
  // from one header read over HTTP ranges, the weights of all parts.
  const pick = said.find((h) => h.startsWith('picked '))!
  assert.match(pick, /; estimates from the GGUF header of tiny\.Q2_K\.gguf$/)
  assert.equal(
    Number(/tiny-split-F16-00001-of-00002\.gguf needs ~(\d+) MiB/.exec(pick)?.[1]),
    entry.memory_estimate_mb,
  )
  assert.equal(entry.source, `hf:acme/${REPO}:${PART1}`)
  assert.equal(entry.size_bytes, sizes[0]! + sizes[1]!)
  assert.ok(entry.memory_estimate_mb > (sizes[0]! + sizes[1]!) / (1024 * 1024))
  assert.equal(basename(entry.path), PART1)
  assert.deepEqual((await readdir(dirname(entry.path))).sort(), [PART1, PART2])

  const spawned = await runJob(hive.url, {
    operation: 'worker_spawn',
    model: entry.id,
    worker: 'cpu',
    slots: 1,
    ctx_size: 512,
  })
  assert.equal(spawned.outcome, 'done', spawned.message ?? '')
  const worker = WorkerSpawnResultSchema.parse(payloadOf(spawned, 'worker_spawned'))
  const res = await fetch(`${worker.url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: entry.id, prompt: 'Bees', max_tokens: 4, seed: 1 }),
  })
  assert.equal(res.status, 200)
  const body = (await res.json()) as {
    choices: Array<{ text: string }>
    usage: { completion_tokens: number }
  }
  assert.ok(body.usage.completion_tokens >= 1 && body.choices[0]!.text.length > 0)
  assert.equal(
    (await runJob(hive.url, { operation: 'worker_stop', worker_id: worker.worker_id })).outcome,
    'done',
  )
})

test('a hive that cannot reach the hub picks and fetches a split model from a peer, part by part, each checked against its recorded sha256', async (t) => {
  const first = ModelEntrySchema.parse(
    payloadOf<ModelEntry>(
      await runJob(hive.url, { operation: 'model_get', model: `hf:acme/${REPO}:${PART1}` }),
      'model',
    ),
  )
  assert.deepEqual(
    first.parts?.map((p) => [p.file, p.size_bytes]),
    [
      [PART1, sizes[0]],
      [PART2, sizes[1]],
    ],
  )
  // No HF_ENDPOINT: the hub is a closed port (an air-gapped LAN); only the peer has the model.
  const second = await startHive({ hiveId: 'second-hive' })
  t.after(() => second.close())
  const asked = hub.requests.length
  const run = await runJob(second.url, {
    operation: 'model_download',
    model: `hf:acme/${REPO}`,
    sources: [{ kind: 'peer', hive_id: 'test-hive', url: hive.url }],
  })
  assert.equal(run.outcome, 'done', run.message ?? '')
  assert.equal(hub.requests.length, asked, 'no request reached the stand-in hub')
  const said = run.narrations.map((n) => n.human)
  assert.ok(
    said.some((h) =>
      /^cannot reach http:\/\/127\.0\.0\.1:\d+ for repo acme\/split-GGUF: .*; choosing among the files of acme\/split-GGUF that peer test-hive \(127\.0\.0\.1\) has$/.test(
        h,
      ),
    ),
    said.join('\n'),
  )
  assert.ok(
    said.some((h) =>
      /^picked tiny-split-F16-00001-of-00002\.gguf \(best quantization by name among 1\)$/.test(h),
    ),
  )
  assert.ok(
    said.some((h) => /^downloading part 2 of 2, .* from peer test-hive \(127\.0\.0\.1\)/.test(h)),
    said.join('\n'),
  )
  assert.equal(said.filter((h) => /^part \d of 2, sha256 verified/.test(h)).length, 2)
  const copy = ModelEntrySchema.parse(payloadOf<ModelEntry>(run, 'model'))
  assert.deepEqual(copy.parts, first.parts)

  const deleted = await runJob(hive.url, { operation: 'model_delete', model: first.id })
  assert.equal(deleted.outcome, 'done', deleted.message ?? '')
  assert.deepEqual(await readdir(dirname(first.path)), [], 'both parts are deleted')
})

test('a split model is imported by its first part; a later part, or a first part without the rest, is refused by name', async () => {
  const dropDir = join(hive.home, 'import')
  await copyFile(parts[0]!, join(dropDir, basename(parts[0]!)))
  const lonely = await runJob(hive.url, {
    operation: 'model_import',
    path: join(dropDir, basename(parts[0]!)),
  })
  assert.equal(lonely.outcome, 'error')
  assert.match(
    lonely.message ?? '',
    /RBEE_MODEL_INVALID: .* is not a usable split GGUF model: part .*00002-of-00002\.gguf is missing/,
  )

  await copyFile(parts[1]!, join(dropDir, basename(parts[1]!)))
  const second = await runJob(hive.url, {
    operation: 'model_import',
    path: join(dropDir, basename(parts[1]!)),
  })
  assert.equal(second.outcome, 'error')
  assert.match(second.message ?? '', /it is part 2 of 2; import or download the first part/)

  const run = await runJob(hive.url, {
    operation: 'model_import',
    path: join(dropDir, basename(parts[0]!)),
    id: 'split-import',
  })
  assert.equal(run.outcome, 'done', run.message ?? '')
  const entry = ModelEntrySchema.parse(payloadOf<ModelEntry>(run, 'model'))
  assert.equal(entry.size_bytes, sizes[0]! + sizes[1]!)
  assert.equal(entry.available, true)
  assert.deepEqual(
    entry.parts?.map((p) => p.size_bytes),
    sizes,
  )
})

test('a split model of more parts than a catalog entry may hold is refused by name before anything is fetched or read', async () => {
  const name = 'huge-00001-of-01025.gguf'
  const asked = hub.requests.length
  const download = await runJob(hive.url, { operation: 'model_download', model: `hf:acme/${REPO}:${name}` })
  assert.equal(download.outcome, 'error')
  assert.match(
    download.message ?? '',
    new RegExp(
      `RBEE_BAD_REQUEST: hf:acme/${REPO}:${name} is split into 1025 parts; a model may have at most 1024`,
    ),
  )
  assert.equal(hub.requests.length, asked, 'the hub was not asked')
  const path = join(hive.home, 'import', name)
  const imported = await runJob(hive.url, { operation: 'model_import', path })
  assert.equal(imported.outcome, 'error')
  assert.match(
    imported.message ?? '',
    /RBEE_BAD_REQUEST: .*huge-00001-of-01025\.gguf is split into 1025 parts/,
  )
})
