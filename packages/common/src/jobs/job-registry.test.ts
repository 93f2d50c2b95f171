import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { type JobStreamEvent, parseJobFrame } from '@rbee/contracts'
import { Authenticator } from '../auth.js'
import { RbeeError } from '../errors.js'
import { createHttpServer } from '../http/server.js'
import { deferred } from '../lifecycle.js'
import { silentLogger } from '../logger.js'
import { readSse } from '../sse/sse-reader.js'
import { JobRegistry } from './job-registry.js'
import { registerJobRoutes } from './job-routes.js'

const gates = new Map<string, ReturnType<typeof deferred<void>>>()
let base = ''
const registry = new JobRegistry({ actor: 'test', logger: silentLogger(), retentionMs: 300, bufferSize: 50 })
const server = createHttpServer({ logger: silentLogger() })

before(async () => {
  registerJobRoutes(
    server.app,
    registry,
    async (op, ctx) => {
      if (op.operation === 'model_get') {
        // Emits a numbered narration per step, waiting on a gate the test opens.
        const steps = Number(op.model.replace(/\D/g, '') || '3')
        for (let i = 0; i < steps; i++) ctx.narrate('step', `step ${i}`, { progress: i / steps })
        const gate = deferred<void>()
        gates.set(ctx.id, gate)
        ctx.signal.addEventListener('abort', () => gate.reject(ctx.signal.reason))
        await gate.promise
        ctx.data('result', { ok: true })
        return
      }
      if (op.operation === 'model_delete' && op.model === 'coded')
        throw new RbeeError('RBEE_MODEL_IN_USE', 'in use')
      if (op.operation === 'model_delete') throw new Error(`cannot delete ${op.model}\nsecond line`)
    },
    { auth: new Authenticator(), access: 'user' },
  )
  const port = await server.listen('127.0.0.1', 0)
  base = `http://127.0.0.1:${port}`
})
after(async () => {
  await registry.close()
  await server.close()
})

async function submit(op: unknown): Promise<{ job_id: string; sse_url: string }> {
  const res = await fetch(`${base}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(op),
  })
  assert.equal(res.status, 201)
  return (await res.json()) as { job_id: string; sse_url: string }
}

async function collect(
  url: string,
  headers: Record<string, string> = {},
  until?: (e: JobStreamEvent) => boolean,
) {
  const res = await fetch(`${base}${url}`, { headers })
  assert.equal(res.status, 200)
  const events: JobStreamEvent[] = []
  for await (const m of readSse(res.body!)) {
    const e = parseJobFrame(m.event, Number(m.id), m.data)
    events.push(e)
    if (e.kind === 'end' || until?.(e)) break
  }
  return events
}

/** Polls `cond` until it holds (bounded: 5 s). */
async function until(cond: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5000
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not met within 5 s')
    await new Promise((r) => setTimeout(r, 10))
  }
}

async function waitForGate(id: string): Promise<ReturnType<typeof deferred<void>>> {
  for (let i = 0; i < 200; i++) {
    const g = gates.get(id)
    if (g) return g
    await new Promise((r) => setImmediate(r))
  }
  throw new Error('job never reached its gate')
}

test('a job streams its narration and data in order and ends with [DONE]', async () => {
  const job = await submit({ operation: 'model_get', model: 'm3' })
  const gate = await waitForGate(job.job_id)
  const pending = collect(job.sse_url)
  setTimeout(() => gate.resolve(), 20)
  const events = await pending
  assert.deepEqual(
    events.map((e) => e.kind),
    ['narration', 'narration', 'narration', 'data', 'end'],
  )
  assert.deepEqual(
    events.map((e) => e.id),
    [1, 2, 3, 4, 5],
  )
  const end = events.at(-1)
  assert.ok(end?.kind === 'end' && end.outcome === 'done')
})

test('a failing job ends with one [ERROR] marker carrying its message on one line', async () => {
  const job = await submit({ operation: 'model_delete', model: 'x' })
  const events = await collect(job.sse_url)
  const end = events.at(-1)
  assert.ok(end?.kind === 'end' && end.outcome === 'error')
  assert.equal(end.message, 'cannot delete x second line')
  const coded = await collect((await submit({ operation: 'model_delete', model: 'coded' })).sse_url)
  const codedEnd = coded.at(-1)
  assert.ok(codedEnd?.kind === 'end' && codedEnd.outcome === 'error')
  assert.equal(codedEnd.message, 'RBEE_MODEL_IN_USE: in use', 'an RbeeError keeps its code in the marker')
})

test('DELETE cancels a running job: its work is aborted and the stream ends with [CANCELLED]', async () => {
  const job = await submit({ operation: 'model_get', model: 'm1' })
  const gate = await waitForGate(job.job_id)
  const aborted = gate.promise.then(
    () => false,
    () => true,
  )
  const pending = collect(job.sse_url)
  const res = await fetch(`${base}/v1/jobs/${job.job_id}`, { method: 'DELETE' })
  assert.equal(res.status, 202)
  assert.equal(await aborted, true)
  const end = (await pending).at(-1)
  assert.ok(end?.kind === 'end' && end.outcome === 'cancelled')
  const state = (await (await fetch(`${base}/v1/jobs/${job.job_id}`)).json()) as { state: string }
  assert.equal(state.state, 'cancelled')
})

test('a subscriber that reconnects with Last-Event-ID gets only the events it missed', async () => {
  const job = await submit({ operation: 'model_get', model: 'm5' })
  const gate = await waitForGate(job.job_id)
  const first = await collect(job.sse_url, {}, (e) => e.id === 2)
  assert.deepEqual(
    first.map((e) => e.id),
    [1, 2],
  )
  gate.resolve()
  const rest = await collect(job.sse_url, { 'last-event-id': '2' })
  assert.deepEqual(
    rest.map((e) => e.id),
    [3, 4, 5, 6, 7],
  )
  assert.equal(rest.at(-1)?.kind, 'end')
})

test('the event buffer is bounded: a late subscriber gets the newest events and the terminal marker', async () => {
  const job = await submit({ operation: 'model_get', model: 'm120' })
  const gate = await waitForGate(job.job_id)
  gate.resolve()
  await until(
    async () =>
      ((await (await fetch(`${base}/v1/jobs/${job.job_id}`)).json()) as { state: string }).state === 'done',
  )
  const events = await collect(job.sse_url)
  assert.equal(events.length, 50)
  assert.equal(events[0]?.id, 73)
  assert.equal(events.at(-1)?.kind, 'end')
})

test('finished jobs are dropped after the retention period', async () => {
  const job = await submit({ operation: 'model_delete', model: 'gone' })
  await collect(job.sse_url)
  assert.equal((await fetch(`${base}/v1/jobs/${job.job_id}`)).status, 200)
  await until(async () => (await fetch(`${base}/v1/jobs/${job.job_id}`)).status === 404)
  const res = await fetch(`${base}/v1/jobs/${job.job_id}`)
  assert.equal(res.status, 404)
  assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'RBEE_JOB_NOT_FOUND')
})

test('a bad operation is answered 400 naming the field, and an unknown job 404', async () => {
  const bad = await fetch(`${base}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ operation: 'worker_spawn', model: '../etc/passwd' }),
  })
  assert.equal(bad.status, 400)
  const body = (await bad.json()) as { error: { code: string; message: string } }
  assert.equal(body.error.code, 'RBEE_VALIDATION')
  assert.match(body.error.message, /model/)
  const unknown = await fetch(`${base}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ operation: 'format_disk' }),
  })
  assert.equal(unknown.status, 400)
  const malformed = await fetch(`${base}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"operation":',
  })
  assert.equal(malformed.status, 400)
  assert.equal((await fetch(`${base}/v1/jobs/nope/stream`)).status, 404)
})

test('a job past its timeout is stopped and ends with [ERROR] RBEE_DEADLINE_EXCEEDED naming its last step; a deadline header does the same, a bad one is a 400', async () => {
  const t0 = Date.now()
  const job = await submit({ operation: 'model_get', model: 'm2', timeout: 0.2 })
  const gate = await waitForGate(job.job_id)
  const aborted = gate.promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  const end = (await collect(job.sse_url)).at(-1)
  assert.ok(end?.kind === 'end' && end.outcome === 'error')
  assert.match(
    end.message ?? '',
    /^RBEE_DEADLINE_EXCEEDED: deadline exceeded: the job did not finish within 0\.\d+ s; last step: step 1$/,
  )
  assert.ok(Date.now() - t0 >= 195, `ended after ${Date.now() - t0} ms`)
  assert.equal(((await aborted) as RbeeError).code, 'RBEE_DEADLINE_EXCEEDED', 'the work was aborted')

  const post = (body: unknown, headers: Record<string, string>) =>
    fetch(`${base}/v1/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    })
  const viaHeader = await post(
    { operation: 'model_get', model: 'm1', timeout: 60 },
    { 'x-request-timeout': '0.1' },
  )
  assert.equal(viaHeader.status, 201)
  const headerEnd = (await collect(((await viaHeader.json()) as { sse_url: string }).sse_url)).at(-1)
  assert.ok(headerEnd?.kind === 'end' && /^RBEE_DEADLINE_EXCEEDED: /.test(headerEnd.message ?? ''))

  const badHeader = await post({ operation: 'model_get', model: 'm1' }, { 'x-request-deadline': 'tomorrow' })
  assert.equal(badHeader.status, 400)
  assert.match(
    ((await badHeader.json()) as { error: { message: string } }).error.message,
    /X-Request-Deadline/,
  )
  const zero = await post({ operation: 'model_get', model: 'm1', timeout: 0 }, {})
  assert.equal(zero.status, 400)
  assert.match(
    ((await zero.json()) as { error: { message: string } }).error.message,
    /^invalid operation: timeout: /,
  )
})

test('a job list shows a caller its own jobs only, newest first, with the operation each runs', async () => {
  const jobs = new JobRegistry({ actor: 'test', logger: silentLogger(), unreadGraceMs: 0 })
  const never = () => new Promise<void>(() => {})
  const a = jobs.start(never, { key: 'key:a', disclose: false }, { operation: 'model_download' })
  const b = jobs.start(never, { key: 'key:b', disclose: false }, { operation: 'worker_spawn' })
  const c = jobs.start(never, { key: 'key:a', disclose: false }, { operation: 'model_list' })
  const own = jobs.list({ key: 'key:a', admin: false })
  assert.deepEqual(
    own.map((j) => [j.job_id, j.operation, j.state]),
    [
      [c.job_id, 'model_list', 'running'],
      [a.job_id, 'model_download', 'running'],
    ],
  )
  assert.deepEqual(
    jobs.list({ key: null, admin: true }, 2).map((j) => j.job_id),
    [c.job_id, b.job_id],
  )
  assert.deepEqual(jobs.list({ key: null, admin: false }), [])
  await jobs.close()
})
