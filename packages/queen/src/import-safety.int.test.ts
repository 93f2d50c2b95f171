import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { copyFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { type JobOutcome, QueenClient } from '@rbee/client'
import { ImportDeniedSchema, ModelEntrySchema } from '@rbee/contracts'
import {
  type StartedQueen,
  startQueen,
  tinyModelPath,
  writeBloatedGguf,
  writeTensorFloodGguf,
} from '@rbee/testing'
import { z } from 'zod'

// Issue 14, findings 2, 3 and 5, through the queen's jobs API as they were reported: the queen
// runs its hive in-process, so whatever the hive does with a file, the queen lives with.
describe('a queen whose own hive is asked to import hostile files', () => {
  let queen: StartedQueen
  let client: QueenClient
  let extra: string
  let drop: string

  before(async () => {
    extra = await mkdtemp(join(tmpdir(), 'rbee-extra-import-'))
    queen = await startQueen({ args: ['--import-dir', extra] })
    client = new QueenClient({ baseUrl: queen.url })
    drop = join(queen.home, 'import')
  })
  after(async () => {
    await client?.close()
    await queen?.close()
    await rm(extra, { recursive: true, force: true })
  })

  const importJob = async (path: string): Promise<JobOutcome & { ms: number }> => {
    const t0 = performance.now()
    const out = await (await client.run({ operation: 'model_import', path })).collect()
    return { ...out, ms: performance.now() - t0 }
  }
  /** model_list through the queen, and how long it took. */
  const listModels = async (): Promise<{ ids: string[]; ms: number }> => {
    const t0 = performance.now()
    const out = await (await client.run({ operation: 'model_list' })).collect()
    assert.equal(out.outcome, 'done', out.message ?? '')
    const list = z.object({ models: z.array(ModelEntrySchema) }).parse(out.data.at(-1)?.payload)
    return { ids: list.models.map((m) => m.id), ms: performance.now() - t0 }
  }
  const assertQueenWell = async (): Promise<void> => {
    assert.equal((await fetch(`${queen.url}/health`)).status, 200)
    process.kill(queen.pid, 0)
    const status = await client.status()
    assert.deepEqual(
      status.hives.map((h) => [h.id, h.online]),
      [[queen.localHive, true]],
    )
  }

  test('GGUF files built to exhaust a reader are refused in moments as RBEE_MODEL_INVALID, and the queen stays up', async (t) => {
    const files = {
      // The reported file: 26 arrays of 16 Mi uint8, 416 MiB (sparse here).
      'bloat-416m.gguf': () =>
        writeBloatedGguf(join(drop, 'bloat-416m.gguf'), { arrays: 26, arrayLength: 16 << 20 }),
      // Each array within the length limit; together past the metadata limit.
      'bloat-68m.gguf': () =>
        writeBloatedGguf(join(drop, 'bloat-68m.gguf'), { arrays: 17, arrayLength: 4 << 20 }),
      // More tensors than any model has.
      'tensors-70k.gguf': () => writeTensorFloodGguf(join(drop, 'tensors-70k.gguf'), 70_000),
    }
    const expected: Record<keyof typeof files, RegExp> = {
      'bloat-416m.gguf': /array junk\.0 has 16777216 elements, over the 4194304 limit/,
      'bloat-68m.gguf': /array junk\.15 runs past the 64 MiB limit on metadata/,
      'tensors-70k.gguf': /tensor count 70000 is over the 65536 limit/,
    }
    for (const [name, write] of Object.entries(files)) {
      const size = await write()
      const out = await importJob(join(drop, name))
      t.diagnostic(`${name} (${(size / 2 ** 20).toFixed(0)} MiB): refused after ${out.ms.toFixed(0)} ms`)
      assert.equal(out.outcome, 'error')
      assert.match(out.message ?? '', /^RBEE_MODEL_INVALID: .* is not a usable GGUF model: /)
      assert.match(out.message ?? '', expected[name as keyof typeof files])
      assert.ok(out.ms < 5000, `${name} took ${out.ms} ms`)
    }
    await assertQueenWell()
    assert.deepEqual((await listModels()).ids, ['tiny'])
  })

  test('importing a FIFO five times at once is refused at once, and model_list still answers', async () => {
    const fifo = join(drop, 'pipe.gguf')
    execFileSync('mkfifo', [fifo])
    const outs = await Promise.all(Array.from({ length: 5 }, () => importJob(fifo)))
    for (const out of outs) {
      assert.equal(out.outcome, 'error')
      assert.match(out.message ?? '', /^RBEE_MODEL_INVALID: .*pipe\.gguf is not a regular file/)
      assert.ok(out.ms < 5000, `took ${out.ms} ms`)
    }
    const list = await listModels()
    assert.ok(list.ms < 2000, `model_list took ${list.ms} ms`)
    await assertQueenWell()
  })

  test('a path outside the import dirs is refused without a hint of its content or existence; --import-dir adds a dir', async () => {
    const shadow = await importJob('/etc/shadow')
    const absent = await importJob('/etc/no-such-file')
    for (const out of [shadow, absent]) {
      assert.equal(out.outcome, 'error')
      assert.match(out.message ?? '', /^RBEE_IMPORT_DENIED: cannot import \/etc\//)
      assert.doesNotMatch(out.message ?? '', /root|starts with|GGUF/)
    }
    assert.equal(
      shadow.message?.replace('/etc/shadow', 'P'),
      absent.message?.replace('/etc/no-such-file', 'P'),
    )
    const denied = ImportDeniedSchema.parse(shadow.data.find((d) => d.action === 'import_denied')?.payload)
    assert.deepEqual(denied.import_dirs, [drop, join(queen.home, 'models'), extra])

    await copyFile(await tinyModelPath(), join(extra, 'from-extra.gguf'))
    const imported = await importJob(join(extra, 'from-extra.gguf'))
    assert.equal(imported.outcome, 'done', imported.message ?? '')
    assert.ok((await listModels()).ids.includes('from-extra'))
  })
})
