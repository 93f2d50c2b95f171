// The processes the GPU check starts (a queen with its local hive, workers of its own) and the
// jobs it runs on the queen. Every child is killed when the check ends, however it ends.
import { spawn } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { readSse } from '@rbee/common/base'
import { parseJobFrame } from '@rbee/contracts'

const children = new Set()

/** Kills every child still running (SIGKILL): for the check's exit paths. */
export function killAll() {
  for (const c of children) c.kill('SIGKILL')
}

/**
 * Starts `command args`, stderr to `logPath`; resolves with the child and its first stdout JSON
 * line for which `isReady` holds, or rejects when it exits first or `timeoutMs` passes.
 */
function startChild({ command, args, env, logPath, isReady, timeoutMs, cwd }) {
  const started = performance.now()
  const child = spawn(command, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  const log = createWriteStream(logPath)
  child.stderr.pipe(log)
  const exited = new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      children.delete(child)
      resolve({ code, signal })
    }),
  )
  const stdout = []
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${command} not ready within ${timeoutMs} ms (log: ${logPath})`))
    }, timeoutMs)
    exited.then(({ code, signal }) => {
      clearTimeout(timer)
      const fatal = stdout.find((m) => m.type === 'fatal')
      reject(
        new Error(
          `${args[0]} exited (${code ?? signal}) before it was ready${fatal ? `: ${fatal.message}` : ''} (log: ${logPath})`,
        ),
      )
    })
    createInterface({ input: child.stdout }).on('line', (line) => {
      let msg
      try {
        msg = JSON.parse(line)
      } catch {
        return
      }
      stdout.push(msg)
      if (isReady(msg)) {
        clearTimeout(timer)
        resolve(msg)
      }
    })
  })
  const close = async (graceMs = 10_000) => {
    if (child.exitCode !== null || child.signalCode !== null) return exited
    child.kill('SIGTERM')
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs)
    try {
      return await exited
    } finally {
      clearTimeout(t)
    }
  }
  return ready.then(
    (msg) => ({ child, msg, close, logPath, readyMs: performance.now() - started }),
    async (err) => {
      await close(1000)
      throw err
    },
  )
}

/**
 * A queen on 127.0.0.1 (the OS picks the port) with its own local hive and data dir, no keys.
 * Its workers inherit `env` through the hive's allow-list (LD_LIBRARY_PATH, VK_*, RBEE_LOG_LEVEL…).
 */
export async function startQueen({ root, home, importDir, env, logPath }) {
  const q = await startChild({
    command: process.execPath,
    args: [
      join(root, 'packages/queen/dist/main.js'),
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--home',
      home,
      '--hives-conf',
      join(home, 'no-hives.conf'),
      '--import-dir',
      importDir,
    ],
    env,
    logPath,
    isReady: (m) => m.type === 'listening',
    timeoutMs: 60_000,
  })
  return { ...q, url: `http://127.0.0.1:${q.msg.port}`, home }
}

/**
 * Starts `llm-worker-rbee` directly, as a hive starts it (port 0, a one-thread libuv pool), with
 * `flags` (`['--threads', '4']`…); resolves once it is ready.
 */
export async function startWorker({ root, model, modelRef, flags, env, logPath }) {
  const w = await startChild({
    command: process.execPath,
    args: [join(root, 'packages/worker/dist/main.js'), '--model', model, '--model-ref', modelRef, ...flags],
    env: { ...env, UV_THREADPOOL_SIZE: '1' },
    logPath,
    isReady: (m) => m.type === 'ready',
    timeoutMs: 300_000,
  })
  return { ...w, url: `http://127.0.0.1:${w.msg.port}`, backend: w.msg.backend }
}

/**
 * Runs an operation on the queen's jobs API and follows it to its end.
 * @returns `{ outcome, message, narrations: string[], data: {action, payload}[] }`
 */
export async function runJob(url, op, timeoutMs = 300_000) {
  const signal = AbortSignal.timeout(Math.round(timeoutMs))
  const res = await fetch(`${url}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(op),
    signal,
  })
  const body = await res.json()
  if (res.status !== 201) throw new Error(`${op.operation}: ${res.status} ${JSON.stringify(body)}`)
  const stream = await fetch(`${url}/v1/jobs/${body.job_id}/stream`, { signal })
  const run = { outcome: 'unknown', message: null, narrations: [], data: [] }
  for await (const m of readSse(stream.body)) {
    const e = parseJobFrame(m.event, Number(m.id), m.data)
    if (e.kind === 'narration') run.narrations.push(e.narration.human)
    else if (e.kind === 'data') run.data.push(e.data)
    else if (e.kind === 'end') {
      run.outcome = e.outcome
      run.message = e.message
      break
    }
  }
  return run
}

/** The payload of a job's data event `action`, or undefined. */
export function payloadOf(run, action) {
  return run.data.find((d) => d.action === action)?.payload
}

/** The worker's warm-up log line (`warmed up…`) in a log file, or undefined. */
export async function warmupOf(logPath) {
  const text = await readFile(logPath, 'utf8').catch(() => '')
  for (const line of text.split('\n')) {
    if (!line.includes('warm')) continue
    try {
      const m = JSON.parse(line)
      if (typeof m.msg === 'string' && /^(warmed up|no warm-up)/.test(m.msg)) return m
    } catch {}
  }
  return undefined
}
