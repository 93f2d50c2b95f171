import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { BackendProbe } from '@rbee/contracts'
import { BACKEND_PROBE_FIXTURE, PROBE_FIXTURES, probeFixturePath } from '@rbee/testing'
import { resolveWorkerCommand } from '../workers/worker-command.js'
import { probeBackends } from './backend-probe.js'

// The probe program here is the test double of `llm-worker-rbee --probe-backends` (@rbee/testing's fixtures);
// the real one is tested in packages/worker. What is tested is the hive's side: a child process,
// its deadline, and what survives its crash.
const command = resolveWorkerCommand(BACKEND_PROBE_FIXTURE)
const env = (extra: NodeJS.ProcessEnv) => ({ PATH: process.env.PATH, ...extra })
const usability = (p: BackendProbe) => p.backends.map((b) => [b.backend, b.usable])
/** The probe fixture of an NVIDIA machine with the Vulkan build and no CUDA build. */
const H200_USABILITY = [
  ['cpu', true],
  ['cuda', false],
  ['vulkan', true],
  ['metal', false],
]

test('the probe runs in a child process and its result comes back whole', async () => {
  const probe = await probeBackends({
    command,
    env: env({ RBEE_FIXTURE_PROBE: probeFixturePath(PROBE_FIXTURES.nvidiaNoCuda) }),
  })
  assert.deepEqual(usability(probe), H200_USABILITY)
  assert.equal(probe.node_llama_cpp, '3.21.1')
})

test('a build that crashes the probe is unusable with how it ended, and the builds after it are still probed', async () => {
  const probe = await probeBackends({
    command,
    env: env({
      RBEE_FIXTURE_PROBE: probeFixturePath(PROBE_FIXTURES.nvidiaNoCuda),
      RBEE_FIXTURE_PROBE_CRASH: 'cuda',
    }),
  })
  const cuda = probe.backends.find((b) => b.backend === 'cuda')!
  assert.equal(cuda.usable, false)
  assert.match(
    cuda.reason ?? '',
    /^the probe of llama\.cpp builds crashed \(signal SIGSEGV\): ggml_cuda_init: failed to initialize cuda while trying the CUDA build/,
  )
  assert.deepEqual(usability(probe), H200_USABILITY)
})

test('a probe that never answers is stopped at its deadline and every build reads as not checked', async () => {
  const t0 = performance.now()
  const probe = await probeBackends({ command, env: env({ RBEE_FIXTURE_PROBE_HANG: '1' }), timeoutMs: 1500 })
  assert.ok(performance.now() - t0 < 5000)
  assert.match(
    probe.backends[0]?.reason ?? '',
    /the probe of llama\.cpp builds did not finish in time while trying the CPU build/,
  )
  assert.deepEqual(
    probe.backends.slice(1).map((b) => b.reason),
    Array(3).fill('not checked: the probe did not finish within 1500 ms'),
  )
})

test('a probe program that does not exist leaves every build unusable, saying so', async () => {
  const probe = await probeBackends({
    command: { command: '/nonexistent/probe', prefixArgs: [] },
    env: env({}),
  })
  assert.match(probe.backends[0]?.reason ?? '', /could not be started \(spawn \/nonexistent\/probe ENOENT\)/)
  assert.ok(probe.backends.every((b) => !b.usable))
})
