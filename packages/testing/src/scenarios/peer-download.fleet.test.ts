import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { test } from 'node:test'
import { type ModelEntry, ModelEntrySchema, type Operation, PEER_HUB_PATH } from '@rbee/contracts'
import { canCreateNetworks, LocalHub, printFleetFigures, startFleet, tinyModelPath } from '../index.js'

const skip = (await canCreateNetworks()) ? false : 'needs root and iproute2 to create network namespaces'

const FILE = 'shared.Q4_K_M.gguf'
const REF = `hf:acme/shared-GGUF:${FILE}`
// The tiny model's header and tensors, then zeros: a valid GGUF large enough to time a transfer.
const PADDING = 64 * 1024 * 1024

test('a second host loads a model from the first one over the network, never from the hub, and the time beside the hub is measured', {
  skip,
  timeout: 120_000,
}, async (t) => {
  const bytes = Buffer.concat([await readFile(await tinyModelPath()), Buffer.alloc(PADDING)])
  let hub: LocalHub | undefined
  const fleet = await startFleet({
    hosts: 2,
    hiveArgs: () => ['--hf-endpoint', hub!.url],
    // On the gateway address, so the hives reach it from their namespaces.
    beforeHives: async (gateway) => {
      hub = await LocalHub.start({ host: gateway })
      hub.addRepo('acme', 'shared-GGUF', { [FILE]: bytes })
    },
  })
  t.after(async () => {
    await fleet.close()
    await hub?.close()
  })
  const download = async (hive: number, extra: Partial<Operation> = {}) => {
    const t0 = performance.now()
    const job = await fleet.queen.client.run({
      operation: 'model_download',
      hive_id: fleet.hives[hive]!.id,
      model: REF,
      ...extra,
    } as Operation)
    const out = await job.collect()
    const s = (performance.now() - t0) / 1000
    assert.equal(out.outcome, 'done', out.message ?? '')
    const entry = ModelEntrySchema.parse(out.data.find((d) => d.action === 'model')?.payload as ModelEntry)
    return { s, said: out.narration.map((n) => n.human), entry }
  }

  const fromHub = await download(0)
  assert.ok(fromHub.said.some((h) => / from the hub \(/.test(h)))
  const asked = hub!.requests.length
  const fromPeer = await download(1)
  const peerHost = fleet.hives[0]!.host.address
  assert.ok(
    fromPeer.said.some((h) => h.includes(`from peer ${fleet.hives[0]!.id} (${peerHost})`)),
    fromPeer.said.join('\n'),
  )
  const hubRequestsForPeer = hub!.requests.length - asked
  assert.equal(hubRequestsForPeer, 0, 'the hub saw no request for the peer download')
  assert.equal(fromPeer.entry.sha256, hub!.sha256('acme', 'shared-GGUF', FILE))

  // The same host again from the hub alone (`sources: []`), under the same conditions.
  const del = await fleet.queen.client.run({
    operation: 'model_delete',
    hive_id: fleet.hives[1]!.id,
    model: REF,
  })
  assert.equal((await del.collect()).outcome, 'done')
  const hubAgain = await download(1, { sources: [] })
  assert.ok(hubAgain.said.some((h) => / from the hub \(/.test(h)))

  // The bare transfer, without the job around it: the whole file read by this process from the
  // peer's resolve URL (node token) and from the hub's CDN.
  const readAll = async (url: string, headers: Record<string, string> = {}): Promise<number> => {
    const t0 = performance.now()
    const res = await fetch(url, { headers })
    let n = 0
    for await (const chunk of res.body!) n += (chunk as Uint8Array).length
    assert.equal(n, bytes.length)
    return (performance.now() - t0) / 1000
  }
  const rawPeer = await readAll(
    `${fleet.hives[0]!.url}${PEER_HUB_PATH}/acme/shared-GGUF/resolve/main/${FILE}`,
    {
      authorization: `Bearer ${fleet.nodeToken}`,
    },
  )
  const rawHub = await readAll(hub!.cdnUrlOf('acme', 'shared-GGUF', FILE))

  printFleetFigures('peer-download', {
    file_mib: Math.round(bytes.length / (1024 * 1024)),
    first_from_hub_s: Number(fromHub.s.toFixed(2)),
    from_peer_s: Number(fromPeer.s.toFixed(2)),
    from_hub_s: Number(hubAgain.s.toFixed(2)),
    peer_over_hub: Number((fromPeer.s / hubAgain.s).toFixed(2)),
    hub_requests_during_peer_download: hubRequestsForPeer,
    bare_transfer_peer_s: Number(rawPeer.toFixed(2)),
    bare_transfer_hub_s: Number(rawHub.toFixed(2)),
  })
})
