import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { readSse } from '@rbee/common'
import { InferEventSchema } from '@rbee/contracts'
import { type ManagedProcess, type StartedWorker, startWorker } from '@rbee/testing'

type LogLine = Record<string, unknown> & { msg?: unknown }

function parseLog(line: string): LogLine | undefined {
  try {
    const v: unknown = JSON.parse(line)
    return typeof v === 'object' && v !== null ? (v as LogLine) : undefined
  } catch {
    return undefined
  }
}

/**
 * The first log line (stderr, JSON) whose message matches, now or when it comes. Stdout (where
 * the ready message is) and stderr are separate pipes: a line written before the ready message
 * may be read after it.
 */
function logLine(p: ManagedProcess, msg: RegExp, timeoutMs = 30_000): Promise<LogLine> {
  const find = (): LogLine | undefined =>
    p.stderrLines.map(parseLog).find((l) => typeof l?.msg === 'string' && msg.test(l.msg))
  const stderr = p.child.stderr!
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const hit = find()
      if (hit) done(() => resolve(hit))
    }
    const timer = setTimeout(
      () => done(() => reject(new Error(`no log line ${msg} within ${timeoutMs} ms:\n${p.stderrTail()}`))),
      timeoutMs,
    )
    const done = (settle: () => void): void => {
      clearTimeout(timer)
      // Registered after ManagedProcess's reader, so each chunk's lines are in stderrLines here.
      stderr.off('data', check)
      settle()
    }
    stderr.on('data', check)
    check()
  })
}

async function completion(url: string): Promise<string> {
  const res = await fetch(`${url}/v1/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'Once upon a time', max_tokens: 32, temperature: 1, seed: 11 }),
  })
  assert.equal(res.status, 200, await res.clone().text())
  let text = ''
  for await (const m of readSse(res.body!)) {
    const e = InferEventSchema.parse(JSON.parse(m.data))
    if (e.type === 'token') text += e.t
  }
  return text
}

describe('a CPU worker started with --warmup on', () => {
  const info = { RBEE_LOG_LEVEL: 'info' }
  let warm: StartedWorker
  let cold: StartedWorker
  before(async () => {
    ;[warm, cold] = await Promise.all([
      startWorker({ args: ['--slots', '4', '--warmup', 'on'], env: info }),
      startWorker({ args: ['--slots', '4'], env: info }),
    ])
  })
  after(() => Promise.all([warm?.close(), cold?.close()]))

  test('runs every batch shape before it reports ready, and logs how long that took', async () => {
    const line = await logLine(warm.process, /^warmed up/)
    assert.equal(line.as_planned, true, JSON.stringify(line))
    assert.equal(typeof line.warmup_ms, 'number')
    // 4 slots decoding 1 to 4 sequences at once; prompt batches up to the batch size (512).
    const tokens = line.batch_tokens as number[]
    for (const n of [1, 2, 3, 4, 8, 32, 64, 512]) assert.ok(tokens.includes(n), `no batch of ${n}: ${tokens}`)
    // One stream, written in order: the warm-up's line comes before the status change to ready.
    await logLine(warm.process, /^worker status$/)
    const logs = warm.process.stderrLines.map(parseLog)
    const warmedAt = logs.findIndex((l) => /^warmed up/.test(String(l?.msg)))
    const readyAt = logs.findIndex((l) => l?.msg === 'worker status' && l.to === 'ready')
    assert.ok(warmedAt >= 0 && readyAt > warmedAt, `ready at line ${readyAt}, warmed up at line ${warmedAt}`)
  })

  test('answers as a worker without warm-up does: the warm-up leaves nothing in the slots', async () => {
    const [a, b] = await Promise.all([completion(warm.url), completion(cold.url)])
    assert.ok(a.length > 0)
    assert.equal(a, b)
  })

  test('by default (auto) a CPU worker skips the warm-up and says so', async () => {
    const line = await logLine(cold.process, /^no warm-up/)
    assert.match(String(line.msg), /CPU/)
  })
})
