import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { test } from 'node:test'
import { resolveWorkerCommand, type WorkerLaunch, workerArgs, workerEnv } from './worker-command.js'

const launch: WorkerLaunch = {
  workerId: 'w-1',
  modelId: 'tiny',
  modelPath: '/m/tiny.gguf',
  backend: 'cpu',
  device: 0,
  slots: 2,
  ctxSize: 512,
  bindHost: '0.0.0.0',
  advertiseHost: '10.0.0.12',
  hiveId: 'gpu-box',
  hiveUrl: 'http://10.0.0.12:7835',
  queenUrl: 'http://10.0.0.1:7833',
  token: 'shared-secret',
}

test('the default worker is the llm-worker-rbee of @rbee/worker, run by this node', () => {
  const cmd = resolveWorkerCommand()
  assert.equal(cmd.command, process.execPath)
  assert.match(cmd.prefixArgs[0] ?? '', /worker[/\\]dist[/\\]main\.js$/)
  assert.ok(existsSync(cmd.prefixArgs[0]!))
  assert.deepEqual(resolveWorkerCommand('/opt/rbee/llm-worker-rbee'), {
    command: '/opt/rbee/llm-worker-rbee',
    prefixArgs: [],
  })
})

test('a worker is started on port 0 with every setting as a flag, the advertised host when bound to a wildcard', () => {
  const args = workerArgs(launch)
  const flag = (name: string): string | undefined => args[args.indexOf(name) + 1]
  assert.equal(flag('--port'), '0')
  assert.equal(flag('--host'), '0.0.0.0')
  assert.equal(flag('--advertise-host'), '10.0.0.12')
  assert.equal(flag('--queen-url'), 'http://10.0.0.1:7833')
  assert.equal(flag('--model-ref'), 'tiny')
  assert.ok(!args.includes('shared-secret'), 'the token is not on the command line')
})

test("a worker does not inherit the hive's RBEE_* settings but gets the token, the stdin lifeline and a one-thread libuv pool", () => {
  const env = workerEnv({ PATH: '/bin', RBEE_PORT: '7835', RBEE_HOME: '/x', RBEE_LOG_LEVEL: 'debug' }, launch)
  assert.deepEqual(env, {
    PATH: '/bin',
    RBEE_LOG_LEVEL: 'debug',
    RBEE_EXIT_WITH_STDIN: '1',
    UV_THREADPOOL_SIZE: '1',
    RBEE_API_TOKEN: 'shared-secret',
    RBEE_NODE_TOKEN: 'shared-secret',
  })
})

test("a libuv pool size in the hive's environment is passed on as is", () => {
  assert.equal(workerEnv({ UV_THREADPOOL_SIZE: '4' }, launch).UV_THREADPOOL_SIZE, '4')
})
