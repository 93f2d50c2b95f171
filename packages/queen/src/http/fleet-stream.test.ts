import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { readSse } from '@rbee/common'
import { info } from '@rbee/testing'
import { Registry } from '../registry/registry.js'
import { FleetStream } from './fleet-stream.js'

test('worker_update goes out at most once a second per worker, and is not even built with no one listening', async (t) => {
  const registry = new Registry({ hiveIntervalMs: 1000, workerIntervalMs: 10_000 })
  const fleet = new FleetStream({ registry, intervalMs: 3_600_000 })
  t.after(() => fleet.close())
  const a = registry.workerInfo(info('w-a'))
  const b = registry.workerInfo(info('w-b'))
  let built = 0
  fleet.workerUpdate(() => {
    built++
    return a.toRecord()
  }, a.id)
  assert.equal(built, 0, 'no subscriber: nothing built')

  const server = createServer((_req, res) => fleet.subscribe(res))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => server.close())
  const ac = new AbortController()
  t.after(() => ac.abort())
  const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, {
    signal: ac.signal,
  })
  const events = readSse(res.body!)
  assert.equal((await events.next()).value?.event, 'queen', 'the summary comes first')

  // A worker beating on every ready/busy change: three beats, one update; another worker its own.
  for (let i = 0; i < 3; i++) fleet.workerUpdate(() => a.toRecord(), a.id)
  fleet.workerUpdate(() => b.toRecord(), b.id)
  fleet.publish(fleet.summary())
  const seen: string[] = []
  for await (const m of events) {
    if (m.event === 'queen') break
    seen.push(`${m.event} ${JSON.parse(m.data).worker.id}`)
  }
  assert.deepEqual(seen, ['worker_update w-a', 'worker_update w-b'])
})
