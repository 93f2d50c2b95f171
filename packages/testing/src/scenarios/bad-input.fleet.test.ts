import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import OpenAI from 'openai'
import {
  canCreateNetworks,
  isProcessAlive,
  printFleetFigures,
  startFleet,
  writeBloatedGguf,
} from '../index.js'
import { stillServes, summarize } from './fleet-load.js'

const skip = (await canCreateNetworks()) ? false : 'needs root and iproute2 to create network namespaces'

type Target = 'queen' | 'hive' | 'worker'

/** One bad request and what a good answer to it looks like. */
interface BadCase {
  target: Target
  name: string
  method?: 'GET' | 'POST' | 'DELETE'
  path: string
  /** A string is sent as is (malformed JSON), anything else JSON-encoded. */
  body?: unknown
  contentType?: string
  /** Which credential to present (`api` is a user key). @default the one the endpoint needs */
  auth?: 'api' | 'admin' | 'node' | 'none'
  /** Accepted statuses. @default [400] */
  status?: number[]
  /** What the error message must say. */
  says: RegExp
}

const MiB = 1024 * 1024
const chat = (extra: Record<string, unknown>) => ({
  model: 'tiny',
  messages: [{ role: 'user', content: 'hi' }],
  ...extra,
})
/**
 * The smallest valid body of an OpenAI route, with `extra` on top: the routes refuse fields that
 * are not theirs, so a body made for another route would be refused for that instead.
 */
const bodyFor = (path: string, extra: Record<string, unknown>) => ({
  model: 'tiny',
  ...(path === '/v1/chat/completions'
    ? { messages: [{ role: 'user', content: 'hi' }] }
    : path === '/v1/completions'
      ? { prompt: 'hi' }
      : { input: 'hi' }),
  ...extra,
})

/** Bad input for every public endpoint of queen, hive and worker. */
function badCases(hiveId: string): BadCase[] {
  const modelTricks = [
    '../../etc/passwd',
    '/etc/passwd',
    'tiny/../../../etc/shadow',
    '..\\..\\windows',
    'tiny\u0000.gguf',
    '%2e%2e%2fetc',
  ]
  const cases: BadCase[] = []
  // --- queen: OpenAI routes
  for (const path of ['/v1/chat/completions', '/v1/completions', '/v1/embeddings']) {
    cases.push(
      {
        target: 'queen',
        name: 'malformed JSON',
        path,
        body: '{"model": "tiny", "messages": [',
        says: /JSON/i,
      },
      { target: 'queen', name: 'a JSON array', path, body: [1, 2, 3], says: /expected object|invalid/i },
      {
        target: 'queen',
        name: 'wrong type for model',
        path,
        body: { model: 42, messages: 'hi', prompt: 5, input: 5 },
        says: /model/,
      },
      {
        target: 'queen',
        name: 'huge body',
        path,
        body: chat({ pad: 'x'.repeat(9 * MiB) }),
        status: [413],
        says: /large|limit/i,
      },
      {
        target: 'queen',
        name: 'text/plain body',
        path,
        body: 'hello',
        contentType: 'text/plain',
        status: [400, 415],
        says: /object|content|type|JSON|media/i,
      },
      {
        target: 'queen',
        name: 'unknown model',
        path,
        body: bodyFor(path, { model: 'no-such-model' }),
        status: [404],
        says: /no-such-model/,
      },
    )
    for (const model of modelTricks) {
      cases.push({
        target: 'queen',
        name: `path trick in model ${JSON.stringify(model)}`,
        path,
        body: bodyFor(path, { model }),
        status: [400, 404],
        says: /model/,
      })
    }
  }
  for (const path of ['/v1/chat/completions', '/v1/completions']) {
    for (const max_tokens of [1e12, -1, 0, 2.5, '100', 131_073]) {
      cases.push({
        target: 'queen',
        name: `absurd max_tokens ${JSON.stringify(max_tokens)}`,
        path,
        body: bodyFor(path, { max_tokens }),
        says: /max_tokens/,
      })
    }
    cases.push(
      {
        target: 'queen',
        name: 'temperature 99',
        path,
        body: bodyFor(path, { temperature: 99 }),
        says: /temperature/,
      },
      {
        target: 'queen',
        name: 'stream "yes"',
        path,
        body: bodyFor(path, { stream: 'yes' }),
        says: /stream/,
      },
    )
  }
  cases.push(
    {
      target: 'queen',
      name: 'empty messages',
      path: '/v1/chat/completions',
      body: chat({ messages: [] }),
      says: /messages/,
    },
    {
      target: 'queen',
      name: 'message without role',
      path: '/v1/chat/completions',
      body: chat({ messages: [{ content: 'hi' }] }),
      says: /role/,
    },
    {
      target: 'queen',
      name: 'no API key',
      path: '/v1/chat/completions',
      body: chat({}),
      auth: 'none',
      status: [401],
      says: /key|auth|token/i,
    },
    {
      target: 'queen',
      name: 'the node token as API key',
      path: '/v1/chat/completions',
      body: chat({}),
      auth: 'node',
      status: [401, 403],
      says: /key|auth|token/i,
    },
    {
      target: 'queen',
      name: 'path trick in a models URL',
      method: 'GET',
      path: '/v1/models/..%2F..%2Fetc%2Fpasswd',
      status: [404],
      says: /not found|route/i,
    },
  )
  // --- queen: jobs
  const jobs = '/v1/jobs'
  cases.push(
    { target: 'queen', name: 'malformed JSON', path: jobs, body: '{"operation":', says: /JSON/i },
    {
      target: 'queen',
      name: 'unknown operation',
      path: jobs,
      body: { operation: 'rm_rf' },
      says: /operation/,
    },
    { target: 'queen', name: 'no operation', path: jobs, body: { model: 'tiny' }, says: /operation/ },
    {
      target: 'queen',
      name: 'wrong types',
      path: jobs,
      body: { operation: 'worker_spawn', hive_id: 7, model: ['tiny'] },
      says: /hive_id|model/,
    },
    {
      target: 'queen',
      name: 'huge body',
      path: jobs,
      body: { operation: 'infer', model: 'tiny', prompt: 'x'.repeat(9 * MiB) },
      status: [413],
      says: /large|limit/i,
    },
    {
      target: 'queen',
      name: 'absurd max_tokens in infer',
      path: jobs,
      body: { operation: 'infer', model: 'tiny', prompt: 'hi', max_tokens: 1e12 },
      says: /max_tokens/,
    },
    {
      target: 'queen',
      name: 'absurd slots',
      path: jobs,
      body: { operation: 'worker_spawn', hive_id: hiveId, model: 'tiny', slots: 1e9 },
      says: /slots/,
    },
    {
      target: 'queen',
      name: 'unknown hive',
      path: jobs,
      body: { operation: 'worker_list', hive_id: 'no-such-hive' },
      status: [404],
      says: /no-such-hive/,
    },
    {
      target: 'queen',
      name: 'path trick in hive_id',
      path: jobs,
      body: { operation: 'worker_list', hive_id: '../../etc' },
      says: /hive_id/,
    },
    {
      target: 'queen',
      name: 'path trick in import id',
      path: jobs,
      body: { operation: 'model_import', hive_id: hiveId, path: '/etc/hostname', id: '../../evil' },
      says: /id/,
    },
    {
      target: 'queen',
      name: 'unknown job',
      method: 'GET',
      path: '/v1/jobs/no-such-job/stream',
      status: [404],
      says: /no-such-job|not found/i,
    },
    {
      target: 'queen',
      name: 'path trick in a job URL',
      method: 'GET',
      path: '/v1/jobs/..%2F..%2Fetc%2Fpasswd/stream',
      status: [400, 404],
      says: /not found|job|id/i,
    },
    {
      target: 'queen',
      name: 'cancel an unknown job',
      method: 'DELETE',
      path: '/v1/jobs/no-such-job',
      status: [404],
      says: /no-such-job|not found/i,
    },
  )
  for (const model of modelTricks) {
    cases.push(
      {
        target: 'queen',
        name: `path trick in infer model ${JSON.stringify(model)}`,
        path: jobs,
        body: { operation: 'infer', model, prompt: 'hi' },
        says: /model/,
      },
      {
        target: 'queen',
        name: `path trick in model_get ${JSON.stringify(model)}`,
        path: jobs,
        body: { operation: 'model_get', hive_id: hiveId, model },
        says: /model/,
      },
      {
        target: 'queen',
        name: `path trick in worker_spawn model ${JSON.stringify(model)}`,
        path: jobs,
        body: { operation: 'worker_spawn', hive_id: hiveId, model },
        says: /model/,
      },
    )
  }
  // --- queen: node endpoints (the node token)
  cases.push(
    {
      target: 'queen',
      name: 'malformed JSON',
      path: '/v1/hive/ready',
      body: '{"hive_id"',
      auth: 'node',
      says: /JSON/i,
    },
    {
      target: 'queen',
      name: 'wrong types',
      path: '/v1/hive/ready',
      body: { hive_id: 5, hive_url: true },
      auth: 'node',
      says: /hive_id|hive_url/,
    },
    {
      target: 'queen',
      name: 'a file: URL',
      path: '/v1/hive/ready',
      body: { hive_id: 'h', hive_url: 'file:///etc/passwd' },
      auth: 'node',
      says: /hive_url/,
    },
    {
      target: 'queen',
      name: 'path trick in hive_id',
      path: '/v1/hive/ready',
      body: { hive_id: '../../etc', hive_url: 'not a url' },
      auth: 'node',
      says: /hive_id/,
    },
    {
      target: 'queen',
      name: 'the API key on a node endpoint',
      path: '/v1/hive/ready',
      body: { hive_id: 'h', hive_url: 'nope' },
      auth: 'api',
      status: [401, 403],
      says: /token|auth|key/i,
    },
    {
      target: 'queen',
      name: 'huge body',
      path: '/v1/hive/ready',
      body: { hive_id: 'h', pad: 'x'.repeat(MiB) },
      auth: 'node',
      status: [413],
      says: /large|limit/i,
    },
    {
      target: 'queen',
      name: 'malformed JSON',
      path: '/v1/worker-heartbeat',
      body: '{"worker":',
      auth: 'node',
      says: /JSON/i,
    },
    {
      target: 'queen',
      name: 'empty worker',
      path: '/v1/worker-heartbeat',
      body: { worker: {}, timestamp: 'yesterday' },
      auth: 'node',
      says: /worker|timestamp/,
    },
    {
      target: 'queen',
      name: 'wrong types',
      path: '/v1/worker-heartbeat',
      body: { worker: 'w-1', timestamp: 0 },
      auth: 'node',
      says: /worker|timestamp/,
    },
  )
  // --- hive (reached directly on its host, with the node token)
  cases.push(
    { target: 'hive', name: 'malformed JSON', path: jobs, body: '{"operation"', says: /JSON/i },
    {
      target: 'hive',
      name: 'unknown operation',
      path: jobs,
      body: { operation: 'format_disk' },
      says: /operation/,
    },
    {
      target: 'hive',
      name: 'wrong types',
      path: jobs,
      body: { operation: 'worker_spawn', model: 1, slots: 'many' },
      says: /model|slots/,
    },
    {
      target: 'hive',
      name: 'absurd ctx_size',
      path: jobs,
      body: { operation: 'worker_spawn', model: 'tiny', ctx_size: 1e12 },
      says: /ctx_size/,
    },
    {
      target: 'hive',
      name: 'huge body',
      path: jobs,
      body: { operation: 'model_list', pad: 'x'.repeat(9 * MiB) },
      status: [413],
      says: /large|limit/i,
    },
    {
      target: 'hive',
      name: 'path trick in import id',
      path: jobs,
      body: { operation: 'model_import', path: '/etc/hostname', id: '../x' },
      says: /id/,
    },
    {
      target: 'hive',
      name: 'no token',
      path: jobs,
      body: { operation: 'model_list' },
      auth: 'none',
      status: [401],
      says: /token|auth/i,
    },
    {
      target: 'hive',
      name: 'unknown job',
      method: 'GET',
      path: '/v1/jobs/nope/stream',
      status: [404],
      says: /nope|not found/i,
    },
  )
  for (const model of modelTricks) {
    cases.push(
      {
        target: 'hive',
        name: `path trick in model_get ${JSON.stringify(model)}`,
        path: jobs,
        body: { operation: 'model_get', model },
        says: /model/,
      },
      {
        target: 'hive',
        name: `path trick in model_delete ${JSON.stringify(model)}`,
        path: jobs,
        body: { operation: 'model_delete', model },
        says: /model/,
      },
    )
  }
  // --- worker (reached directly on its host, with the node token)
  cases.push(
    { target: 'worker', name: 'malformed JSON', path: '/v1/infer', body: '{"prompt":', says: /JSON/i },
    {
      target: 'worker',
      name: 'wrong types',
      path: '/v1/infer',
      body: { prompt: 5, max_tokens: 'ten' },
      says: /prompt|max_tokens/,
    },
    {
      target: 'worker',
      name: 'absurd max_tokens',
      path: '/v1/infer',
      body: { prompt: 'hi', max_tokens: 1e12 },
      says: /max_tokens/,
    },
    {
      target: 'worker',
      name: 'huge body',
      path: '/v1/infer',
      body: { prompt: 'x'.repeat(9 * MiB) },
      status: [413],
      says: /large|limit/i,
    },
    {
      target: 'worker',
      name: 'absurd max_tokens',
      path: '/v1/chat/completions',
      body: chat({ max_tokens: -5 }),
      says: /max_tokens/,
    },
    {
      target: 'worker',
      name: 'wrong types',
      path: '/v1/completions',
      body: { model: 'tiny', prompt: { a: 1 } },
      says: /prompt/,
    },
    {
      target: 'worker',
      name: 'no token',
      path: '/v1/infer',
      body: { prompt: 'hi' },
      auth: 'none',
      status: [401],
      says: /token|auth|key/i,
    },
    {
      target: 'worker',
      name: 'path trick in a cancel URL',
      method: 'DELETE',
      path: '/v1/infer/..%2F..%2Fetc%2Fpasswd',
      status: [400, 404],
      says: /not found|request|id/i,
    },
  )
  // --- a credential at a door that is not its own, in spellings the router decodes (issue 14:
  // an API key registered a hive at /v1/hive/%72eady and took over routing)
  const evilHive = { hive_id: 'evil', hive_url: 'http://127.0.0.1:19999' }
  const doors: Array<[Target, string, BadCase['auth'], unknown, number, RegExp]> = [
    ['queen', '/v1/hive/%72eady', 'api', evilHive, 401, /node token/],
    ['queen', '/v1/hive/%72eady', 'admin', evilHive, 401, /node token/],
    ['queen', '/v1/worker%2dheartbeat', 'api', {}, 401, /node token/],
    ['queen', '/v1/%6aobs', 'none', { operation: 'status' }, 401, /API key/],
    ['queen', '/v1/jobs', 'api', { operation: 'model_import', path: '/etc/shadow' }, 403, /admin key/],
    ['queen', '/v1/%73hutdown', 'api', {}, 403, /admin key/],
    ['hive', '/v1/%6aobs', 'api', { operation: 'model_list' }, 401, /node token/],
    ['hive', '/v1/%73hutdown', 'admin', {}, 401, /node token/],
    ['worker', '/v1/%63hat/completions', 'api', chat({}), 401, /node token/],
  ]
  for (const [target, path, auth, body, status, says] of doors) {
    cases.push({ target, name: `${auth} credential at ${path}`, path, auth, body, status: [status], says })
  }
  return cases
}

/**
 * One HTTP/1.1 request on a plain socket, resolving with the status and body of the answer (read
 * by its `content-length`). The whole body is written at once, as HTTP clients do; a server that
 * answers a too-large body and then closes the connection before reading the rest resets it, and
 * the client may never see that answer.
 */
function send(
  url: string,
  options: { method: string; headers: Record<string, string>; body: string | undefined },
): Promise<{ status: number; text: string }> {
  const u = new URL(url)
  const body = Buffer.from(options.body ?? '')
  const head = [
    `${options.method} ${u.pathname}${u.search} HTTP/1.1`,
    `host: ${u.host}`,
    ...Object.entries(options.headers).map(([k, v]) => `${k}: ${v}`),
    ...(options.body === undefined ? [] : [`content-length: ${body.length}`]),
    '',
    '',
  ].join('\r\n')
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0)
    let error: Error | undefined
    const socket = connect(Number(u.port), u.hostname)
    const parse = (): { status: number; text: string } | undefined => {
      const end = received.indexOf('\r\n\r\n')
      if (end < 0) return undefined
      const headers = received.subarray(0, end).toString('latin1')
      const status = /^HTTP\/1\.1 (\d{3})/.exec(headers)?.[1]
      const length = /\r\ncontent-length: *(\d+)/i.exec(headers)?.[1]
      const rest = received.subarray(end + 4)
      if (!status || length === undefined || rest.length < Number(length)) return undefined
      return { status: Number(status), text: rest.subarray(0, Number(length)).toString('utf8') }
    }
    socket.setTimeout(15_000, () => socket.destroy(new Error('no answer within 15 s')))
    socket.on('data', (c: Buffer) => {
      received = Buffer.concat([received, c])
      const answer = parse()
      if (answer) {
        socket.destroy()
        resolve(answer)
      }
    })
    socket.on('error', (err) => {
      error = err
    })
    socket.on('close', () =>
      reject(
        new Error(`no complete answer (${received.length} bytes received; ${error?.message ?? 'closed'})`),
      ),
    )
    socket.write(head)
    if (body.length > 0) socket.write(body)
  })
}

/** The error message of an answer: rbee's `{error:{code,message}}` and OpenAI's shape both carry `error.message`. */
function messageOf(text: string): string | undefined {
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown } }
    return typeof body.error?.message === 'string' ? body.error.message : undefined
  } catch {
    return undefined
  }
}

test('bad input on every public endpoint of queen, hive and worker gets a 4xx with a clear message, nothing crashes, and the fleet still serves', {
  skip,
  timeout: 120_000,
}, async (t) => {
  const fleet = await startFleet({ hosts: 1 })
  t.after(() => fleet.close())
  const worker = await fleet.spawnWorker(0, 'tiny', { slots: 2 })
  const hive = fleet.hives[0]!
  const base: Record<Target, string> = { queen: fleet.queen.url, hive: hive.url, worker: worker.url }
  const pids = [fleet.queen.process.pid, hive.process.pid, worker.pid!]

  const cases = badCases(hive.id)
  const wrong: string[] = []
  const statuses: Record<string, number> = {}
  for (const c of cases) {
    const needs = c.target === 'queen' && !c.path.startsWith('/v1/hive/') && !c.path.startsWith('/v1/worker-')
    const auth = c.auth ?? (needs ? 'api' : 'node')
    const token = { api: fleet.apiKey, admin: fleet.adminKey, node: fleet.nodeToken, none: undefined }[auth]
    const method = c.method ?? 'POST'
    let status: number
    let text: string
    try {
      ;({ status, text } = await send(`${base[c.target]}${c.path}`, {
        method,
        headers: {
          ...(method === 'POST' ? { 'content-type': c.contentType ?? 'application/json' } : {}),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: c.body === undefined ? undefined : typeof c.body === 'string' ? c.body : JSON.stringify(c.body),
      }))
    } catch (err) {
      wrong.push(`${c.target} ${method} ${c.path} (${c.name}): no answer: ${String(err)}`)
      continue
    }
    const message = messageOf(text)
    statuses[status] = (statuses[status] ?? 0) + 1
    const label = `${c.target} ${method} ${c.path} (${c.name})`
    if (!(c.status ?? [400]).includes(status)) {
      wrong.push(
        `${label}: status ${status}, expected ${(c.status ?? [400]).join('/')}: ${text.slice(0, 200)}`,
      )
    } else if (!message || !c.says.test(message)) {
      wrong.push(
        `${label}: message ${JSON.stringify(message ?? text.slice(0, 200))} does not match ${c.says}`,
      )
    }
  }

  // The official client sending a too-large body must see the 413, not a broken connection.
  const openai = new OpenAI({ baseURL: `${fleet.queen.url}/v1`, apiKey: fleet.apiKey, maxRetries: 0 })
  for (let i = 0; i < 3; i++) {
    try {
      await openai.chat.completions.create({
        model: 'tiny',
        messages: [{ role: 'user', content: 'x'.repeat(9 * MiB) }],
      })
      wrong.push('openai client, 9 MiB chat: accepted')
    } catch (err) {
      const status = err instanceof OpenAI.APIError ? err.status : undefined
      statuses[String(status ?? 'connection error')] =
        (statuses[String(status ?? 'connection error')] ?? 0) + 1
      if (status !== 413)
        wrong.push(`openai client, 9 MiB chat (try ${i + 1}): ${String(err)} instead of a 413`)
    }
  }

  // A file outside the hive's import dirs is refused without a word about its content; a file
  // inside that is not GGUF is refused as such, its bytes not quoted either.
  const runImport = async (path: string) =>
    (await fleet.queen.client.run({ operation: 'model_import', hive_id: hive.id, path })).collect()
  const outside = await runImport('/etc/hostname')
  if (outside.outcome !== 'error' || !/^RBEE_IMPORT_DENIED: /.test(outside.message ?? '')) {
    wrong.push(`model_import of /etc/hostname ended ${outside.outcome}: ${outside.message}`)
  }
  const notGguf = join(hive.home, 'import', 'notes.gguf')
  await mkdir(dirname(notGguf), { recursive: true })
  await writeFile(notGguf, 'root:x:0:0:root:/root:/bin/bash\n')
  const inside = await runImport(notGguf)
  if (
    inside.outcome !== 'error' ||
    !/^RBEE_MODEL_INVALID: .*does not start with the GGUF magic/.test(inside.message ?? '') ||
    /root/.test(inside.message?.replace(notGguf, '') ?? '')
  ) {
    wrong.push(`model_import of a text file in the import dir ended ${inside.outcome}: ${inside.message}`)
  }

  // A GGUF built to exhaust a reader's heap (issue 14: 26 arrays of 16 Mi uint8, 416 MiB; sparse
  // on disk) is refused as invalid, fast, and nobody falls over.
  const bloated = join(hive.home, 'import', 'bloated.gguf')
  await writeBloatedGguf(bloated, { arrays: 26, arrayLength: 16 * MiB })
  const t0 = performance.now()
  const hostile = await runImport(bloated)
  const hostileMs = Math.round(performance.now() - t0)
  if (hostile.outcome !== 'error' || !/^RBEE_MODEL_INVALID: /.test(hostile.message ?? '')) {
    wrong.push(`model_import of a 416 MiB hostile GGUF ended ${hostile.outcome}: ${hostile.message}`)
  }
  // No encoded spelling registered a hive.
  if ((await fleet.status()).hives.some((h) => h.id === 'evil')) wrong.push('a hive "evil" was registered')

  const alive = await Promise.all(pids.map(isProcessAlive))
  const after = await stillServes(fleet)
  const served = summarize(after)
  printFleetFigures('bad-input', {
    cases: cases.length + 7,
    statuses,
    hostile_gguf_ms: hostileMs,
    wrong_answers: wrong.length,
    processes_alive: alive.filter(Boolean).length,
    served_after: served.ok,
  })

  assert.deepEqual(wrong, [], `${wrong.length} of ${cases.length + 7} bad requests were not answered well`)
  assert.deepEqual(alive, [true, true, true], 'queen, hive and worker are all still running')
  assert.equal((await fleet.status()).workers.find((w) => w.id === worker.id)?.pid, worker.pid)
  assert.equal(served.ok, 4)
})
