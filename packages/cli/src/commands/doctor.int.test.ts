import assert from 'node:assert/strict'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { DoctorReportSchema } from '@rbee/contracts'
import { BACKEND_PROBE_FIXTURE, NVIDIA_SMI_FIXTURE, PROBE_FIXTURES, probeFixturePath } from '@rbee/testing'
import type { CliContext } from '../cli/context.js'
import { bufferOutput } from '../cli/output.js'
import { runCli } from '../cli/run-cli.js'

// Test doubles where this machine has no GPU: nvidia-smi and the backend probe's answer (the
// fixtures of @rbee/testing). The last test runs the real probe.
const NVIDIA_SMI = NVIDIA_SMI_FIXTURE

let scratch: string
before(async () => {
  await chmod(NVIDIA_SMI, 0o755)
  scratch = await mkdtemp(join(tmpdir(), 'rbee-doctor-'))
})
after(() => rm(scratch, { recursive: true, force: true }))

function ctx(env: Record<string, string>): CliContext & { out: ReturnType<typeof bufferOutput> } {
  return {
    env: { PATH: process.env.PATH ?? '', RBEE_HOME: join(scratch, 'home'), ...env },
    out: bufferOutput(),
    signal: new AbortController().signal,
    cwd: '/',
    home: scratch,
    readStdin: async () => '',
  }
}

const h200 = {
  RBEE_NVIDIA_SMI: NVIDIA_SMI,
  RBEE_BACKEND_PROBE: BACKEND_PROBE_FIXTURE,
  RBEE_FIXTURE_PROBE: probeFixturePath(PROBE_FIXTURES.nvidiaNoCuda),
}

test('rbee doctor on an NVIDIA machine without the CUDA build shows Vulkan in use and what to install for CUDA', async () => {
  const c = ctx(h200)
  assert.equal(await runCli(['doctor'], c), 0, c.out.err)
  assert.match(c.out.out, /^nvidia-smi {2}\/.*fixtures\/nvidia-smi$/m)
  assert.match(c.out.out, /^ {2}gpu:0 {2}vulkan NVIDIA GeForce RTX 4090: 19\.5 GiB free of 24\.0 GiB$/m)
  assert.match(
    c.out.out,
    /^ {9}cuda not usable: no CUDA build of llama\.cpp is installed: install the npm package @node-llama-cpp\/linux-x64-cuda/m,
  )
  assert.match(c.out.out, /^ {2}vulkan loads, sees NVIDIA GeForce RTX 4090, NVIDIA A100-SXM4-80GB$/m)
  assert.match(c.out.out, /^ {2}metal {2}not usable: Metal runs only on macOS/m)
})

test('rbee doctor --json is the DoctorReport contract', async () => {
  const c = ctx(h200)
  assert.equal(await runCli(['doctor', '--json'], c), 0, c.out.err)
  const report = DoctorReportSchema.parse(JSON.parse(c.out.out))
  assert.deepEqual(
    report.devices.map((d) => [d.id, d.backend]),
    [
      ['cpu:0', 'cpu'],
      ['gpu:0', 'vulkan'],
      ['gpu:1', 'vulkan'],
    ],
  )
  assert.equal(report.nvidia_smi?.error, null)
})

test('rbee doctor exits 1 when no llama.cpp build loads at all', async () => {
  const none = join(scratch, 'nothing-loads.json')
  await writeFile(
    none,
    JSON.stringify({
      type: 'backend_probe',
      platform: 'linux',
      arch: 'x64',
      node_llama_cpp: '3.21.1',
      backends: ['cpu', 'cuda', 'vulkan', 'metal'].map((backend) => ({
        backend,
        usable: false,
        reason: `no ${backend} build`,
      })),
      duration_ms: 10,
    }),
  )
  const c = ctx({ ...h200, RBEE_NVIDIA_SMI: 'none', RBEE_FIXTURE_PROBE: none })
  assert.equal(await runCli(['doctor'], c), 1)
  assert.match(c.out.out, /^ {2}cpu:0 {2}none {2}/m)
  assert.match(c.out.err, /no llama\.cpp build loads on this machine, so no worker can run here/)
})

test('rbee doctor with the real probe finds the CPU build usable on this machine', async () => {
  const c = ctx({ RBEE_NVIDIA_SMI: 'none' })
  assert.equal(await runCli(['doctor', '--json'], c), 0, c.out.err)
  const report = DoctorReportSchema.parse(JSON.parse(c.out.out))
  assert.equal(report.backend_probe.backends.find((b) => b.backend === 'cpu')?.usable, true)
  assert.ok(report.backend_probe.backends.every((b) => b.usable || b.reason))
})
