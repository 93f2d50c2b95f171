import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { QueenClient } from '@rbee/client'
import { formatSse } from '@rbee/common'
import { type FleetStatus, type HiveStreamEvent, RBEE_PROTOCOL, RBEE_VERSION } from '@rbee/contracts'
import { type StartedQueen, startQueen, waitFor } from '@rbee/testing'

/**
 * A TEST DOUBLE of a hive of another rbee release (only this build is installed here, so no
 * real one can run): it serves the heartbeat stream, a telemetry event every 200 ms reporting
 * `version` and `protocol`, and nothing else.
 */
async function hiveOfRelease(
  id: string,
  version: string,
  protocol: number,
): Promise<{ port: number; server: Server }> {
  const server = createServer((req, res) => {
    if (req.url !== '/v1/heartbeats/stream') {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
    const send = (): void => {
      const ev: HiveStreamEvent = {
        type: 'telemetry',
        hive_id: id,
        hive_info: {
          id,
          hostname: id,
          port: (server.address() as AddressInfo).port,
          operational_status: 'running',
          health_status: 'healthy',
          version,
          protocol,
          devices: [],
        },
        timestamp: new Date().toISOString(),
        workers: [],
        worker_infos: [],
      }
      res.write(formatSse({ event: ev.type, data: ev }))
    }
    send()
    const t = setInterval(send, 200)
    res.on('close', () => clearInterval(t))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { port: (server.address() as AddressInfo).port, server }
}

const hiveEntry = (id: string, port: number) => `Host ${id}\n    HostName 127.0.0.1\n    HivePort ${port}\n`

describe('versions between queen, hives and workers', () => {
  let dir: string
  let queen: StartedQueen
  const doubles: Server[] = []
  let client: QueenClient

  // A real queen with two hives in its hives.conf: one of a newer release of the same protocol,
  // one of another protocol.
  before(async () => {
    const newer = await hiveOfRelease('newer', '0.2.0', RBEE_PROTOCOL)
    const future = await hiveOfRelease('future', '9.0.0', RBEE_PROTOCOL + 1)
    doubles.push(newer.server, future.server)
    dir = await mkdtemp(join(tmpdir(), 'rbee-versions-'))
    const hivesConf = join(dir, 'hives.conf')
    await writeFile(hivesConf, hiveEntry('newer', newer.port) + hiveEntry('future', future.port))
    queen = await startQueen({ hivesConf, args: ['--no-local-hive'] })
    client = new QueenClient({ baseUrl: queen.url })
  })
  after(async () => {
    await client?.close()
    await queen?.close()
    for (const s of doubles) {
      s.closeAllConnections()
      s.close()
    }
    await rm(dir, { recursive: true, force: true })
  })

  const hiveOf = (s: FleetStatus, id: string) => s.hives.find((h) => h.id === id)

  test('a hive of another release but the same protocol is used, and status shows its release next to the queen’s', async () => {
    const s = await waitFor('hive newer online', async () => {
      const st = await client.status()
      return hiveOf(st, 'newer')?.online && st
    })
    assert.deepEqual(s.queen.version, RBEE_VERSION)
    assert.equal(s.queen.protocol, RBEE_PROTOCOL)
    const h = hiveOf(s, 'newer')!
    assert.deepEqual([h.version, h.protocol, h.compatible, h.error], ['0.2.0', RBEE_PROTOCOL, true, null])
  })

  test('a configured hive of another protocol is kept offline and shown as incompatible, naming both releases', async () => {
    const h = await waitFor('hive future refused', async () => {
      const found = hiveOf(await client.status(), 'future')
      return found?.version === '9.0.0' && found
    })
    assert.equal(h.online, false)
    assert.equal(h.compatible, false)
    assert.ok(h.error?.includes('hive future runs rbee 9.0.0'), h.error ?? '')
    assert.ok(
      h.error?.includes(`this queen runs rbee ${RBEE_VERSION} (protocol ${RBEE_PROTOCOL})`),
      h.error ?? '',
    )
  })

  test('a hive of another protocol is refused at registration with both releases named, and shown in status', async () => {
    const res = await fetch(`${queen.url}/v1/hive/ready`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        hive_id: 'too-new',
        hive_url: 'http://127.0.0.1:9',
        version: '2.0.0',
        protocol: RBEE_PROTOCOL + 1,
      }),
    })
    assert.equal(res.status, 409)
    const body = (await res.json()) as { error: { code: string; message: string } }
    assert.equal(body.error.code, 'RBEE_PROTOCOL_MISMATCH')
    assert.match(body.error.message, /hive too-new runs rbee 2\.0\.0 \(protocol \d+\)/)
    assert.ok(body.error.message.includes(`this queen runs rbee ${RBEE_VERSION}`), body.error.message)
    const h = hiveOf(await client.status(), 'too-new')
    assert.deepEqual(
      [h?.online, h?.compatible, h?.version, h?.error],
      [false, false, '2.0.0', body.error.message],
    )
  })

  test('a worker heartbeat of another protocol is refused', async () => {
    const res = await fetch(`${queen.url}/v1/worker-heartbeat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        worker: {
          id: 'w-future',
          model_id: 'tiny',
          device: 'cpu:0',
          port: 1,
          status: 'ready',
          implementation: 'llm-worker-rbee',
          version: '9.0.0',
          protocol: RBEE_PROTOCOL + 1,
          host: '127.0.0.1',
          hive_id: null,
          slots_total: 1,
          slots_busy: 0,
        },
        timestamp: new Date().toISOString(),
      }),
    })
    assert.equal(res.status, 409)
    assert.match(
      ((await res.json()) as { error: { message: string } }).error.message,
      /worker w-future runs rbee 9\.0\.0/,
    )
    assert.equal((await client.status()).workers.length, 0)
  })
})
