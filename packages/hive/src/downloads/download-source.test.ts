import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { RbeeError } from '@rbee/common'
import { hubSource, peerSource } from './download-source.js'
import { HfHub } from './hf-hub.js'

test("a peer's 401 is explained by the node token, the hub's by HF_TOKEN", async (t) => {
  const server = createServer((_req, res) => res.writeHead(401).end())
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => server.close())
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const refusal = async (hub: HfHub): Promise<string> => {
    const err = await hub.probe('acme', 'm-GGUF', 'm.gguf', AbortSignal.timeout(10_000)).then(
      () => undefined,
      (e: unknown) => e,
    )
    assert.ok(err instanceof RbeeError && err.code === 'RBEE_DOWNLOAD_FAILED', String(err))
    return err.message
  }
  const peer = peerSource(
    { kind: 'peer', hive_id: 'hive-a', url },
    { token: 'node-token', timeoutMs: 10_000, maxAttempts: 1 },
  )
  const fromPeer = await refusal(peer.hub)
  assert.match(fromPeer, /HTTP 401.*peer hive-a did not accept this hive's node token/)
  assert.doesNotMatch(fromPeer, /HF_TOKEN/)
  const hub = hubSource(new HfHub({ endpoint: url, token: 'hf_x', timeoutMs: 10_000 }), 1)
  assert.match(await refusal(hub.hub), /the HF_TOKEN given was not accepted/)
})
