import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { test } from 'node:test'
import { startQueen, waitFor } from '@rbee/testing'

test('from its first answer, a starting queen says in /v1/info that it runs a local hive, so clients wait for it', async () => {
  // A port known before the queen binds it, so its first answer can be caught.
  const probe = createServer().listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const port = (probe.address() as { port: number }).port
  await new Promise((r) => probe.close(r))
  const starting = startQueen({ port })
  try {
    const first = await waitFor(
      'the starting queen to answer',
      async () => {
        const res = await fetch(`http://127.0.0.1:${port}/v1/info`).catch(() => undefined)
        return res ? ((await res.json()) as { local_hive: string | null; hives_online: number }) : undefined
      },
      60_000,
      2,
    )
    assert.ok(first.local_hive, `first /v1/info: ${JSON.stringify(first)}`)
  } finally {
    await (await starting).close()
  }
})
