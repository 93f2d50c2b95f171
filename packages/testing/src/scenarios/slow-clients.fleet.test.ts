import assert from 'node:assert/strict'
import { type IncomingMessage, request } from 'node:http'
import { test } from 'node:test'
import { delay } from '@rbee/common'
import { WorkerInfoSchema } from '@rbee/contracts'
import OpenAI from 'openai'
import { canCreateNetworks, printFleetFigures, processRssMb, startFleet, waitFor } from '../index.js'
import { Load, stillServes, summarize } from './fleet-load.js'

const skip = (await canCreateNetworks()) ? false : 'needs root and iproute2 to create network namespaces'

/** Opens a streamed chat completion through the queen and hands back the unread response. */
function openStream(queenUrl: string, apiKey: string, maxTokens: number): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${queenUrl}/v1/chat/completions`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
        timeout: 30_000,
      },
      resolve,
    )
    req.on('timeout', () => req.destroy(new Error('no answer within 30 s')))
    req.on('error', reject)
    req.end(
      JSON.stringify({
        model: 'tiny',
        messages: [{ role: 'user', content: 'a slow reader' }],
        max_tokens: maxTokens,
        stream: true,
      }),
    )
  })
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0

test('a slow client and clients that disconnect mid-stream leave no worker slot taken and no memory growing in queen or worker', {
  skip,
  timeout: 150_000,
}, async (t) => {
  const fleet = await startFleet({ hosts: 1 })
  t.after(() => fleet.close())
  const worker = await fleet.spawnWorker(0, 'tiny', { slots: 2 })
  const queenPid = fleet.queen.process.pid
  const workerPid = worker.pid!
  const slotsBusy = async (): Promise<number> => {
    const res = await fetch(`${worker.url}/v1/info`, {
      headers: { authorization: `Bearer ${fleet.nodeToken}` },
      signal: AbortSignal.timeout(5000),
    })
    return WorkerInfoSchema.parse(await res.json()).slots_busy
  }
  const waitIdle = async (): Promise<number> => {
    const from = Date.now()
    await waitFor('every worker slot free', async () => (await slotsBusy()) === 0, 5000, 10)
    return Date.now() - from
  }
  const openai = new OpenAI({ baseURL: `${fleet.queen.url}/v1`, apiKey: fleet.apiKey, maxRetries: 0 })

  // --- A slow client: reads one frame every 20 ms while another client is served at full speed.
  const slow = await openStream(fleet.queen.url, fleet.apiKey, 150)
  assert.equal(slow.statusCode, 200)
  const slowRead = (async () => {
    let text = ''
    for await (const chunk of slow) {
      text += String(chunk)
      await delay(20)
    }
    return text
  })()
  const fast = await new Load({
    queenUrl: fleet.queen.url,
    apiKey: fleet.apiKey,
    model: 'tiny',
    total: 6,
    concurrency: 1,
    maxTokens: 32,
  }).start().done
  const fastDuringSlow = summarize(fast)
  const slowText = await slowRead
  assert.match(slowText, /data: \[DONE\]/, 'the slow client got the whole answer')
  const slowFreedMs = await waitIdle()

  // --- A stalled client: stops reading, then goes away; its slot must come back.
  const stalled = await openStream(fleet.queen.url, fleet.apiKey, 1000)
  stalled.pause()
  await delay(1000)
  const stalledGoneAt = Date.now()
  stalled.destroy()
  await waitIdle()
  const stalledFreedMs = Date.now() - stalledGoneAt

  // --- Clients that disconnect after a few tokens, in rounds; memory is read after each round.
  const disconnectRound = async (): Promise<number[]> => {
    const freed: number[] = []
    for (let i = 0; i < 10; i++) {
      const streams = [0, 1].map(async () => {
        const ac = new AbortController()
        const stream = await openai.chat.completions.create(
          { model: 'tiny', messages: [{ role: 'user', content: 'bye' }], max_tokens: 1000, stream: true },
          { signal: ac.signal },
        )
        let n = 0
        try {
          for await (const chunk of stream) {
            if (chunk.choices[0]?.delta?.content && ++n === 3) ac.abort()
          }
        } catch (err) {
          if (!ac.signal.aborted) throw err
        }
        return Date.now()
      })
      const gone = Math.max(...(await Promise.all(streams)))
      await waitIdle()
      freed.push(Date.now() - gone)
    }
    return freed
  }
  const rss: Array<{ queen: number; worker: number }> = []
  const freed: number[] = []
  for (let round = 0; round < 4; round++) {
    freed.push(...(await disconnectRound()))
    rss.push({ queen: await processRssMb(queenPid), worker: await processRssMb(workerPid) })
  }
  const after = await stillServes(fleet)
  // The first round warms up (JIT, pools, llama buffers); growth is counted from its end.
  const growth = {
    queen: rss.at(-1)!.queen - rss[0]!.queen,
    worker: rss.at(-1)!.worker - rss[0]!.worker,
  }

  printFleetFigures('slow-clients', {
    fast_requests_ok_during_slow_client: fastDuringSlow.ok,
    slow_client_slot_freed_ms: slowFreedMs,
    stalled_client_slot_freed_ms: stalledFreedMs,
    disconnects: freed.length * 2,
    disconnect_slot_freed_ms_p50: median(freed),
    disconnect_slot_freed_ms_max: Math.max(...freed),
    rss_mb_per_round: rss.map((r) => ({ queen: Math.round(r.queen), worker: Math.round(r.worker) })),
    rss_growth_mb: { queen: Math.round(growth.queen * 10) / 10, worker: Math.round(growth.worker * 10) / 10 },
    served_after: summarize(after).ok,
  })

  assert.equal(fastDuringSlow.ok, 6, 'a slow client does not hold others up')
  assert.ok(stalledFreedMs <= 1000, `a stalled client's slot came back after ${stalledFreedMs} ms`)
  assert.ok(
    Math.max(...freed) <= 1000,
    `a disconnected client's slot came back after ${Math.max(...freed)} ms`,
  )
  assert.ok(growth.queen <= 15, `queen RSS grew ${growth.queen.toFixed(1)} MB over 60 disconnects`)
  assert.ok(growth.worker <= 25, `worker RSS grew ${growth.worker.toFixed(1)} MB over 60 disconnects`)
  assert.equal(summarize(after).ok, 4)
  assert.equal(await slotsBusy(), 0)
})
