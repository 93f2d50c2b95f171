import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import {
  FleetStatusSchema,
  ModelEntrySchema,
  QueenStreamEventSchema,
  WorkerSpawnResultSchema,
} from '@rbee/contracts'
import { LocalHub, RbeeSandbox, startHive, tinyModelPath } from '@rbee/testing'
import { z } from 'zod'

// One sandbox (data dir, config dir, queen port) for the whole file: the first `rbee infer`
// starts its queen, and the tests after it reuse that queen, as a user's second command would.
let sb: RbeeSandbox
let hub: LocalHub
let tiny: Buffer

before(async () => {
  tiny = await readFile(await tinyModelPath())
  hub = await LocalHub.start()
  hub.addFile('acme', 'tiny-GGUF', 'tiny-dl.Q8_0.gguf', tiny)
  sb = await RbeeSandbox.create()
})

after(async () => {
  await sb?.close()
  await hub?.close()
})

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('rbee against a real queen it starts itself', () => {
  test('rbee infer with no queen running starts one in the background and streams tokens', async () => {
    assert.equal(await sb.queenPid(), undefined)
    const p = sb.spawn(['infer', 'Hello bees', '--max-tokens', '24', '--seed', '7'])
    // Narration comes on stderr while the queen starts and a worker spawns; tokens on stdout.
    await p.waitFor('stderr', /no queen at http:\/\/127\.0\.0\.1:\d+: starting queen-rbee/)
    const run = await p.done
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stderr, /queen-rbee is up \(pid \d+\)/)
    assert.match(run.stderr, /loading tiny/)
    assert.ok(run.stdout.trim().length > 0, 'tokens on stdout')
    assert.ok(run.stdout.endsWith('\n'))
    const pid = await sb.queenPid()
    assert.ok(pid && alive(pid), 'the queen keeps running after rbee exits')
  })

  test('a second rbee infer reuses the running queen', async () => {
    const pid = await sb.queenPid()
    const run = await sb.run(['infer', '--json', 'Hello again', '--max-tokens', '12', '--temperature', '0'])
    assert.equal(run.code, 0, run.stderr)
    assert.doesNotMatch(run.stderr, /starting queen-rbee/)
    assert.equal(await sb.queenPid(), pid)
    const events = run.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; token?: { i: number } })
    const tokens = events.filter((e) => e.kind === 'token')
    assert.equal(tokens.length, 12)
    assert.deepEqual(
      tokens.map((t) => t.token?.i),
      [...Array(12).keys()],
    )
    assert.deepEqual(events.at(-1), { kind: 'end', id: events.length, outcome: 'done', message: null })
  })

  test('rbee status --json validates against FleetStatusSchema and shows the worker', async () => {
    const run = await sb.run(['status', '--json'])
    assert.equal(run.code, 0, run.stderr)
    const status = FleetStatusSchema.parse(JSON.parse(run.stdout))
    assert.equal(status.queen.url, sb.queenUrl)
    assert.equal(status.hives.length, 1)
    assert.equal(status.hives[0]!.online, true)
    assert.ok(status.workers.some((w) => w.model_id === 'tiny' && w.routable))
    const table = await sb.run(['status'])
    assert.equal(table.code, 0)
    assert.match(table.stdout, /HIVES \(1\/1 online\)/)
    assert.match(table.stdout, /WORKERS \(\d+\)\nID +MODEL +HIVE +ADDRESS/)
  })

  test('Ctrl+C during rbee infer cancels the job on the queen and exits 130', async () => {
    const p = sb.spawn(['infer', 'Tell me everything', '--max-tokens', '2000'])
    await p.waitFor('stdout', /\S/)
    p.child.kill('SIGINT')
    const run = await p.done
    assert.equal(run.code, 130, run.stderr)
    assert.match(run.stderr, /cancelling job [0-9a-f-]+…\ncancelled job/)
    // The worker was told: it is free again at once for the next request.
    const next = await sb.run(['infer', 'next', '--max-tokens', '4'])
    assert.equal(next.code, 0, next.stderr)
  })

  test('workers are spawned and stopped, and local models imported and removed, through the queen', async () => {
    const spawned = await sb.run(['worker', 'spawn', '-m', 'tiny', '--slots', '2', '--json'])
    assert.equal(spawned.code, 0, spawned.stderr)
    const worker = WorkerSpawnResultSchema.parse(JSON.parse(spawned.stdout))
    assert.match(spawned.stderr, /loading tiny: \d+%/)
    const listed = await sb.run(['worker', 'list'])
    assert.match(listed.stdout, new RegExp(`^${worker.worker_id} +tiny +`, 'm'))
    const stopped = await sb.run(['worker', 'stop', worker.worker_id])
    assert.equal(stopped.code, 0, stopped.stderr)
    assert.equal(stopped.stdout, `${worker.worker_id} stopped\n`)

    const file = join(sb.root, 'my model.gguf')
    await copyFile(await tinyModelPath(), file)
    const imported = await sb.run(['model', 'import', file, '--id', 'my-tiny'])
    assert.equal(imported.code, 0, imported.stderr)
    assert.match(imported.stdout, /^imported my-tiny: llama /)
    // The file is outside the hive's import dirs: rbee links it into the hive's drop dir.
    const linked = join(sb.home, 'import', 'my model.gguf')
    assert.ok(imported.stderr.includes(`${file} is outside hive `), imported.stderr)
    assert.ok(imported.stderr.includes(`import dirs: linked it to ${linked}`), imported.stderr)
    assert.equal((await stat(linked)).ino, (await stat(file)).ino, 'a hard link, not a copy')
    assert.match((await sb.run(['model', 'list'])).stdout, /^\S+ +my-tiny +llama/m)
    const removed = await sb.run(['model', 'rm', 'my-tiny'])
    assert.equal(removed.code, 0, removed.stderr)
    assert.equal(removed.stdout, 'removed my-tiny (its file was left in place)\n')
    const inferred = await sb.run(['infer', '-m', file, 'hi', '--max-tokens', '2'])
    assert.equal(inferred.code, 0, inferred.stderr)
    assert.ok(inferred.stderr.includes(`is already in hive `), 'the link made before is used again')
    const notGguf = join(sb.root, 'notes.gguf')
    await writeFile(notGguf, 'not a model\n')
    const refused = await sb.run(['model', 'import', notGguf])
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /^rbee: .*does not start with the GGUF magic/m)
    assert.ok(
      !existsSync(join(sb.home, 'import', 'notes.gguf')),
      'a refused file is not left in the import dir',
    )
  })

  test('rbee status --watch --json follows the live stream until Ctrl+C', async () => {
    const p = sb.spawn(['status', '--watch', '--json'])
    await p.waitFor('stdout', /"type":"telemetry"[^\n]*\n[\s\S]*"type":"(queen|telemetry)"/, 15_000)
    p.child.kill('SIGINT')
    const run = await p.done
    assert.equal(run.code, 0, run.stderr)
    for (const line of run.stdout.trim().split('\n')) QueenStreamEventSchema.parse(JSON.parse(line))
  })

  test('a download shows progress, can be cancelled, and a later one completes and serves', async (t) => {
    // A second hive whose HF_ENDPOINT is the local hub, announcing itself to the sandbox's queen.
    const dl = await startHive({
      hiveId: 'dl-hive',
      env: { HF_ENDPOINT: hub.url },
      args: ['--queen-url', sb.queenUrl],
    })
    t.after(() => dl.close())
    await sb.waitHiveOnline('dl-hive')

    hub.bytesPerSecond = 96 * 1024
    const ref = 'hf:acme/tiny-GGUF:tiny-dl.Q8_0.gguf'
    const p = sb.spawn(['model', 'download', ref, '--hive', 'dl-hive'])
    // Not a terminal: progress is printed as lines, one per tenth.
    await p.waitFor('stderr', /tiny-dl\.Q8_0\.gguf: [\d.]+ KiB \/ [\d.]+ KiB \([1-9]\d?%\)/, 30_000)
    p.child.kill('SIGINT')
    const cancelled = await p.done
    assert.equal(cancelled.code, 130, cancelled.stderr)
    assert.match(cancelled.stderr, /download cancelled/)
    assert.ok(hub.abortedTransfers >= 1, 'the hive stopped reading from the hub')
    const listed = await sb.run(['model', 'list', '--json', '--hive', 'dl-hive'])
    assert.equal(listed.code, 0, listed.stderr)
    const ids = z.array(ModelEntrySchema.extend({ hive_id: z.string() })).parse(JSON.parse(listed.stdout))
    assert.ok(!ids.some((m) => m.id === 'tiny-dl.Q8_0'), 'a cancelled download is not registered')

    hub.bytesPerSecond = 0
    // --no-peers: the queen passes `sources: []` and does not look for a peer (no choice to narrate).
    const done = await sb.run(['model', 'download', ref, '--hive', 'dl-hive', '--no-peers'])
    assert.equal(done.code, 0, done.stderr)
    assert.match(done.stdout, /^downloaded tiny-dl\.Q8_0: llama /)
    assert.match(done.stderr, /\(100%\)/)
    assert.match(done.stderr, /downloading tiny-dl\.Q8_0\.gguf of acme\/tiny-GGUF from the hub \(/)
    assert.doesNotMatch(done.stderr, /no other online hive has/)
    assert.match(
      cancelled.stderr,
      /no other online hive has hf:acme\/tiny-GGUF:tiny-dl\.Q8_0\.gguf: dl-hive fetches it from the hub/,
    )
    // infer with an hf: reference finds the hive that has it; the queen routes there.
    const answer = await sb.run(['infer', '-m', ref, 'hi', '--max-tokens', '5'])
    assert.equal(answer.code, 0, answer.stderr)
    assert.match(answer.stderr, /of hive dl-hive/)
    assert.ok(answer.stdout.trim().length > 0)
  })

  test('rbee model list marks the entries a hive rebuilt from its files after finding its catalog corrupt', async (t) => {
    const home = await mkdtemp(join(tmpdir(), 'rbee-cli-heal-'))
    t.after(() => rm(home, { recursive: true, force: true }))
    const dir = join(home, 'models', 'hf', 'acme', 'kept-GGUF')
    await mkdir(dir, { recursive: true })
    await copyFile(await tinyModelPath(), join(dir, 'kept.Q4_0.gguf'))
    await writeFile(join(home, 'catalog.sqlite'), randomBytes(8192))
    const healed = await startHive({ hiveId: 'heal-hive', home, args: ['--queen-url', sb.queenUrl] })
    t.after(() => healed.close())
    await sb.waitHiveOnline('heal-hive')

    const listed = await sb.run(['model', 'list', '--hive', 'heal-hive'])
    assert.equal(listed.code, 0, listed.stderr)
    assert.match(
      listed.stdout,
      /^heal-hive +kept\.Q4_0 \(rebuilt\) +llama .* hf:acme\/kept-GGUF:kept\.Q4_0\.gguf$/m,
    )
    assert.match(listed.stdout, /^heal-hive +tiny +llama/m)
    assert.ok(
      listed.stderr.includes(
        `the catalog ${join(home, 'catalog.sqlite')} was unusable (file is not a database) and was moved to ${join(home, 'catalog.sqlite.corrupt-')}`,
      ),
      listed.stderr,
    )
    const json = await sb.run(['model', 'list', '--json', '--hive', 'heal-hive'])
    const rebuilt = Object.fromEntries(
      z
        .array(ModelEntrySchema)
        .parse(JSON.parse(json.stdout))
        .map((m) => [m.id, m.rebuilt]),
    )
    assert.deepEqual(rebuilt, { tiny: false, 'kept.Q4_0': true })
  })

  test('bad flags exit with code 2 and a usage line', async () => {
    const run = await sb.run(['infer', '--max-tokens', 'many', 'hi'])
    assert.equal(run.code, 2)
    assert.equal(run.stdout, '')
    assert.match(
      run.stderr,
      /^rbee infer: --max-tokens must be an integer ≥ 1, not 'many'\nUsage: rbee infer \[options\] PROMPT/,
    )
    const unknown = await sb.run(['worker', 'list', '--colour'])
    assert.equal(unknown.code, 2)
    assert.match(unknown.stderr, /^rbee worker list: Unknown option '--colour'\nUsage: rbee worker list/)
  })

  test('rbee queen reload has the queen re-read hives.conf and models.conf, says what changed, and refuses a file that does not parse', async () => {
    const pid = await sb.queenPid()
    const ok = await sb.run(['queen', 'reload'])
    assert.equal(ok.code, 0, ok.stderr)
    assert.equal(
      ok.stdout,
      `queen-rbee (pid ${pid}) reloaded:\n  hives.conf reloaded  added=[] removed=[] moved=[] hives=0\n  models.conf reloaded  models=[]\n`,
    )
    const conf = join(sb.configDir, 'hives.conf')
    await mkdir(sb.configDir, { recursive: true })
    await writeFile(conf, 'Host h1\n    Bogus yes\n')
    const bad = await sb.run(['queen', 'reload'])
    await rm(conf)
    assert.equal(bad.code, 1, bad.stderr)
    assert.match(
      bad.stdout,
      /refusing what did not parse \(kept as it was\):\n {2}reload refused: hives\.conf kept as it was/,
    )
    assert.match(bad.stdout, /hives\.conf:2: unknown keyword "Bogus"/)
    assert.equal(await sb.queenPid(), pid, 'the same queen serves on')
  })

  test('rbee queen stop leaves no queen, hive or worker process behind', async () => {
    const pid = await sb.queenPid()
    assert.ok(pid)
    assert.ok((await sb.processes()).length >= 2, 'queen and workers run')
    const run = await sb.run(['queen', 'stop'])
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stderr, new RegExp(`queen-rbee stopped \\(pid ${pid}\\)`))
    assert.deepEqual(await sb.processes(), [], 'no process runs out of the data dir')
    assert.equal(await sb.queenPid(), undefined)
    const status = await sb.run(['queen', 'status'])
    assert.equal(status.code, 1)
    assert.match(status.stdout, /not running/)
  })
})
