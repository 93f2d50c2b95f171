import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { type AddressInfo, connect } from 'node:net'
import { type TestContext, test } from 'node:test'
import { readSse, silentLogger } from '@rbee/common'
import { type HiveStreamEvent, HiveStreamEventSchema } from '@rbee/contracts'
import { waitFor } from '@rbee/testing'
import { TelemetryHub } from './telemetry-hub.js'

type Telemetry = Extract<HiveStreamEvent, { type: 'telemetry' }>

function telemetry(padding = ''): Telemetry {
  return {
    type: 'telemetry',
    hive_id: 'h',
    hive_info: {
      id: 'h',
      hostname: padding || 'h',
      port: 1,
      operational_status: 'running',
      health_status: 'healthy',
      version: '0.1.0',
      protocol: 1,
      devices: [],
    },
    timestamp: new Date().toISOString(),
    workers: [],
    worker_infos: [],
  }
}

async function serve(hub: TelemetryHub): Promise<{ port: number; close: () => Promise<void> }> {
  const server = createServer((_req, res) => hub.subscribe(res))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}

/** A started hub behind a real HTTP server, closed after the test; resolves with a subscription. */
async function subscribe(t: TestContext, intervalMs: number): Promise<{ hub: TelemetryHub; res: Response }> {
  const hub = new TelemetryHub({ logger: silentLogger(), intervalMs, snapshot: async () => telemetry() })
  const srv = await serve(hub)
  t.after(async () => {
    hub.close()
    await srv.close()
  })
  hub.start()
  return { hub, res: await fetch(`http://127.0.0.1:${srv.port}/`) }
}

test('a subscriber gets telemetry at once, then on every interval, and published events in between', async (t) => {
  const { hub, res } = await subscribe(t, 50)
  const seen: string[] = []
  for await (const m of readSse(res.body!)) {
    const ev = HiveStreamEventSchema.parse(JSON.parse(m.data))
    assert.equal(m.event, ev.type)
    seen.push(ev.type)
    if (seen.length === 2) {
      hub.publish({
        type: 'worker_exited',
        hive_id: 'h',
        timestamp: new Date().toISOString(),
        worker_id: 'w-1',
        pid: 42,
        port: 1234,
        exit_code: null,
        signal: 'SIGKILL',
        expected: false,
        restarting: true,
        reason: 'killed by signal SIGKILL',
      })
    }
    if (seen.includes('worker_exited') && seen.filter((s) => s === 'telemetry').length >= 3) break
  }
  assert.equal(seen[0], 'telemetry')
  assert.ok(seen.includes('worker_exited'))
})

test('a subscriber that stops reading is dropped instead of buffering without bound', async (t) => {
  const big = 'x'.repeat(64 * 1024)
  const hub = new TelemetryHub({
    logger: silentLogger(),
    intervalMs: 60_000,
    snapshot: async () => telemetry(big),
    maxBufferedBytes: 256 * 1024,
  })
  const srv = await serve(hub)
  t.after(async () => {
    hub.close()
    await srv.close()
  })
  // A raw client that sends its request and then never reads a byte.
  const sock = connect(srv.port, '127.0.0.1')
  sock.pause()
  t.after(() => sock.destroy())
  sock.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
  await waitFor('the raw client to subscribe', () => hub.subscribers > 0, 5000, 10)
  assert.equal(hub.subscribers, 1)
  // Far more than the socket buffers hold: the hub must let go of this reader.
  for (let i = 0; i < 400 && hub.subscribers > 0; i++) {
    hub.publish(telemetry(big))
    await new Promise((r) => setImmediate(r))
  }
  assert.equal(hub.subscribers, 0)
  assert.equal(hub.dropped, 1)
})

test('between telemetry events the stream carries a keep-alive comment every ping period, so a reader can tell a dead link', async (t) => {
  const { res } = await subscribe(t, 60_000)
  const reader = res.body!.getReader()
  const started = performance.now()
  let text = ''
  while ((text.match(/: keep-alive\n\n/g) ?? []).length < 3) {
    const { value, done } = await reader.read()
    if (done) break
    text += new TextDecoder().decode(value)
  }
  await reader.cancel()
  // One telemetry event (at once), then pings: three of them in about 3 × HIVE_STREAM_PING_MS.
  assert.equal((text.match(/^event: telemetry$/gm) ?? []).length, 1)
  assert.ok(performance.now() - started < 60_000 / 4)
})
