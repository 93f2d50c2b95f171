import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { test } from 'node:test'
import {
  gpuCacheEnv,
  probeEnv,
  resolveWorkerCommand,
  type WorkerLaunch,
  workerArgs,
  workerEnv,
} from './worker-command.js'

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
    CUDA_DEVICE_ORDER: 'PCI_BUS_ID',
    RBEE_EXIT_WITH_STDIN: '1',
    UV_THREADPOOL_SIZE: '1',
    RBEE_API_TOKEN: 'shared-secret',
    RBEE_NODE_TOKEN: 'shared-secret',
  })
})

test("a worker inherits what Node, the locale and the GPU runtimes read, and none of the hive's secrets", () => {
  const env = workerEnv(
    {
      HOME: '/home/rbee',
      LANG: 'en_US.UTF-8',
      LC_ALL: 'C',
      TMPDIR: '/scratch',
      LD_LIBRARY_PATH: '/usr/local/cuda/lib64',
      CUDA_VISIBLE_DEVICES: '1',
      GGML_VK_VISIBLE_DEVICES: '0',
      VK_ICD_FILENAMES: '/usr/share/vulkan/icd.d/nvidia_icd.json',
      NODE_LLAMA_CPP_GPU: 'vulkan',
      HF_TOKEN: 'hf_secret',
      HUGGING_FACE_HUB_TOKEN: 'hf_secret',
      HF_ENDPOINT: 'https://huggingface.co',
      AWS_SECRET_ACCESS_KEY: 'aws',
      OPENAI_API_KEY: 'sk',
      NODE_AUTH_TOKEN: 'npm',
      GGML_API_KEY: 'under an allowed prefix, still a secret',
      DATABASE_URL: 'postgres://u:p@db/x',
      SSH_AUTH_SOCK: '/tmp/agent',
    },
    { ...launch, token: undefined },
  )
  assert.deepEqual(Object.keys(env).sort(), [
    'CUDA_DEVICE_ORDER',
    'CUDA_VISIBLE_DEVICES',
    'GGML_VK_VISIBLE_DEVICES',
    'HOME',
    'LANG',
    'LC_ALL',
    'LD_LIBRARY_PATH',
    'NODE_LLAMA_CPP_GPU',
    'RBEE_EXIT_WITH_STDIN',
    'TMPDIR',
    'UV_THREADPOOL_SIZE',
    'VK_ICD_FILENAMES',
  ])
})

test("a libuv pool size in the hive's environment is passed on as is", () => {
  assert.equal(workerEnv({ UV_THREADPOOL_SIZE: '4' }, launch).UV_THREADPOOL_SIZE, '4')
})

test('a model split across GPUs is passed as one --device list', () => {
  const args = workerArgs({ ...launch, backend: 'cuda', device: [0, 1] })
  assert.equal(args[args.indexOf('--device') + 1], '0,1')
  assert.equal(workerArgs(launch)[workerArgs(launch).indexOf('--device') + 1], '0')
})

test("CUDA numbers GPUs as nvidia-smi does for workers and the probe, unless the hive's environment says otherwise", () => {
  assert.equal(probeEnv({ HF_TOKEN: 'x' }).CUDA_DEVICE_ORDER, 'PCI_BUS_ID')
  assert.equal(probeEnv({ HF_TOKEN: 'x' }).HF_TOKEN, undefined)
  assert.equal(workerEnv({ CUDA_DEVICE_ORDER: 'FASTEST_FIRST' }, launch).CUDA_DEVICE_ORDER, 'FASTEST_FIRST')
})

test("a worker's GPU drivers keep their compiled shaders and kernels under the hive's cache dir, unless the hive's environment says where", () => {
  const withCache = { ...launch, gpuCacheDir: '/var/rbee/cache/gpu' }
  const env = workerEnv({ PATH: '/bin' }, withCache)
  assert.equal(env.MESA_SHADER_CACHE_DIR, '/var/rbee/cache/gpu/mesa')
  assert.equal(env.__GL_SHADER_DISK_CACHE, '1')
  assert.equal(env.__GL_SHADER_DISK_CACHE_PATH, '/var/rbee/cache/gpu/nvidia')
  assert.equal(env.CUDA_CACHE_PATH, '/var/rbee/cache/gpu/cuda')
  assert.deepEqual(Object.values(gpuCacheEnv('/var/rbee/cache/gpu').dirs).sort(), [
    '/var/rbee/cache/gpu/cuda',
    '/var/rbee/cache/gpu/mesa',
    '/var/rbee/cache/gpu/nvidia',
  ])
  const own = workerEnv(
    {
      __GL_SHADER_DISK_CACHE_PATH: '/scratch/nv',
      CUDA_CACHE_PATH: '/scratch/cuda',
      __GL_SYNC_TO_VBLANK: '0',
    },
    withCache,
  )
  assert.equal(own.__GL_SHADER_DISK_CACHE_PATH, '/scratch/nv')
  assert.equal(own.CUDA_CACHE_PATH, '/scratch/cuda')
  assert.equal(own.__GL_SYNC_TO_VBLANK, '0', "NVIDIA's driver settings reach the worker")
  assert.equal(workerEnv({}, launch).MESA_SHADER_CACHE_DIR, undefined, 'no cache dir given, none set')
})
