import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { type TestContext, test } from 'node:test'
import { deferred } from '@rbee/common'
import { HiveClient } from './hive-client.js'

// A peer in another process that sends an SSE comment every 20 ms (or nothing, with the
// argument "silent") and never an event.
const PINGER = `
const silent = process.argv[1] === 'silent'
const s = require('node:http').createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/event-stream' })
  res.flushHeaders()
  const t = setInterval(() => silent || res.write(': ping\\n\\n'), 20)
  res.on('close', () => clearInterval(t))
})
s.listen(0, '127.0.0.1', () => console.log(s.address().port))
`

/** A HiveClient for a peer process running `script` (which prints its port first). */
async function clientOfPeer(t: TestContext, script: string, ...args: string[]): Promise<HiveClient> {
  const peer = spawn(process.execPath, ['-e', script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.after(() => peer.kill())
  const [line] = (await once(createInterface({ input: peer.stdout }), 'line')) as [string]
  const hive = new HiveClient({ baseUrl: `http://127.0.0.1:${line.trim()}` })
  t.after(() => hive.close())
  return hive
}

test('a subscription whose own process stalls longer than the idle timeout does not call a pinging peer dead', async (t) => {
  const hive = await clientOfPeer(t, PINGER)
  const disconnects: string[] = []
  const connected = deferred<void>()
  const sub = hive.heartbeats({
    idleTimeoutMs: 150,
    onEvent: () => {},
    onConnect: () => connected.resolve(),
    onDisconnect: (reason) => disconnects.push(reason),
  })
  t.after(() => sub.close())
  await connected.promise
  // This process stalls for 4 idle timeouts; the peer keeps pinging meanwhile.
  const until = performance.now() + 600
  while (performance.now() < until) {}
  await new Promise((resolve) => setTimeout(resolve, 300))
  assert.deepEqual(disconnects, [])
  assert.equal(sub.connected, true)
})

test('a peer that goes silent is called dead after the idle timeout', async (t) => {
  const hive = await clientOfPeer(t, PINGER, 'silent')
  const down = deferred<string>()
  const started = performance.now()
  const sub = hive.heartbeats({
    idleTimeoutMs: 150,
    onEvent: () => {},
    onDisconnect: (reason) => down.resolve(reason),
  })
  t.after(() => sub.close())
  assert.equal(await down.promise, 'nothing received for 150 ms')
  assert.ok(performance.now() - started >= 150)
})

// A peer that accepts connections and never answers: what a queen sees of a host whose link is
// cut while a connection is being opened (each attempt waits out the idle timeout).
const MUTE = `
const s = require('node:net').createServer((c) => c.on('error', () => {}))
s.listen(0, '127.0.0.1', () => console.log(s.address().port))
`

test('the backoff after an attempt that waited out its idle timeout counts from the start of that attempt', async (t) => {
  const hive = await clientOfPeer(t, MUTE)
  const downs: number[] = []
  const second = deferred<void>()
  const sub = hive.heartbeats({
    idleTimeoutMs: 800,
    backoff: { initialMs: 1000, maxMs: 1000, jitter: 0 },
    onEvent: () => {},
    onDisconnect: () => {
      downs.push(performance.now())
      if (downs.length === 2) second.resolve()
    },
  })
  t.after(() => sub.close())
  await second.promise
  const gap = downs[1]! - downs[0]!
  // Attempts start 1 s apart (the backoff), each ending 800 ms after it started; counted from
  // the end of the last attempt they would be 1.8 s apart.
  assert.ok(gap >= 990 && gap < 1500, `second attempt ended ${Math.round(gap)} ms after the first`)
})
