import assert from 'node:assert/strict'
import { copyFile, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { QueenClient } from '@rbee/client'
import {
  LocalHub,
  type StartedHive,
  type StartedQueen,
  startHive,
  startQueen,
  tinyModelPath,
  tinyWorkerMemoryMb,
  waitFor,
} from '@rbee/testing'

// A real queen, two real hives with RAM for one and a half tiny workers each, and the local
// stand-in for the Hugging Face hub. Hive a runs a pinned model and has `tiny-chat` (downloaded
// from the hub); hive b has room but not the file.
describe('queen loading a model where there is room', () => {
  let hub: LocalHub
  let a: StartedHive
  let b: StartedHive
  let queen: StartedQueen
  let client: QueenClient

  before(async () => {
    hub = await LocalHub.start()
    hub.addRepo('acme', 'tiny-chat-GGUF', { 'tiny-chat.gguf': await readFile(await tinyModelPath()) })
    const budget = ['--cpu-memory-mb', String(Math.floor((await tinyWorkerMemoryMb()) * 1.5))]
    const env = { HF_ENDPOINT: hub.url }
    ;[a, b] = await Promise.all([
      startHive({ hiveId: 'a', args: budget, env }),
      startHive({ hiveId: 'b', args: budget, env }),
    ])
    const hivesConf = join(a.home, 'hives.conf')
    await writeFile(
      hivesConf,
      `Host a\n  HostName 127.0.0.1\n  HivePort ${a.port}\nHost b\n  HostName 127.0.0.1\n  HivePort ${b.port}\n`,
    )
    await writeFile(join(a.home, 'models.conf'), 'Model keep\n  pin yes\n')
    queen = await startQueen({
      hivesConf,
      args: ['--no-local-hive', '--models-conf', join(a.home, 'models.conf')],
    })
    client = new QueenClient({ baseUrl: queen.url })
    await waitFor('both hives online', async () => (await client.info()).hives_online === 2)
    const path = join(a.home, 'import', 'keep.gguf')
    await copyFile(await tinyModelPath(), path)
    for (const op of [
      { operation: 'model_import', hive_id: 'a', path, id: 'keep' } as const,
      { operation: 'model_download', hive_id: 'a', model: 'hf:acme/tiny-chat-GGUF:tiny-chat.gguf' } as const,
    ]) {
      const out = await (await client.run(op)).collect()
      assert.equal(out.outcome, 'done', out.message ?? '')
    }
  })
  after(async () => {
    await client?.close()
    await queen?.close()
    await Promise.all([a?.close(), b?.close()])
    await hub?.close()
  })

  test('no room on the hive with the file, even after eviction: the hive with room downloads it, then runs it', async () => {
    // The pinned model is kept up on hive a (the only one with it): a has no room left.
    await waitFor(
      'the pinned worker up',
      async () => (await client.status()).workers.some((w) => w.model_id === 'keep' && w.routable),
      30_000,
    )
    const fromHub = hub.requests.length
    const res = await fetch(`${queen.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-rbee-progress': '1' },
      body: JSON.stringify({
        model: 'tiny-chat',
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: 4,
        stream: true,
      }),
    })
    const text = await res.text()
    assert.equal(res.status, 200)
    assert.match(text, /data: \[DONE\]/, text)
    assert.match(
      text,
      /: spawn: downloading hf:acme\/tiny-chat-GGUF:tiny-chat\.gguf to b for tiny-chat: no hive with tiny-chat has room; b\/cpu:0, [\d.]+ MiB free/,
    )
    assert.match(text, /: spawn: starting a worker for tiny-chat on b /)
    // Hive a has the file: b fetches it from its peer, and the hub is not asked.
    assert.match(text, /from peer a /, text)
    assert.equal(hub.requests.length, fromHub, 'the hub was not asked for the file')
    const workers = (await client.status()).workers
    assert.deepEqual(workers.map((w) => `${w.model_id}@${w.hive_id}`).sort(), ['keep@a', 'tiny-chat@b'])
  })
})
