import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { test } from 'node:test'
import { type BackendProbe, BackendProbeLineSchema, BackendProbeSchema } from '@rbee/contracts'
import { daemonCommand } from '@rbee/testing'

/** Runs the real `llm-worker-rbee --probe-backends` (no test double: the builds installed here). */
function runProbe(
  args: string[],
  deadlineMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const t0 = performance.now()
  const worker = daemonCommand('llm-worker-rbee', ['--probe-backends', ...args])
  return new Promise((resolve) => {
    execFile(
      worker.command,
      worker.args,
      { timeout: deadlineMs, killSignal: 'SIGKILL', maxBuffer: 1024 * 1024 },
      (err, stdout, stderr) =>
        resolve({
          code: err ? ((err as { code?: number }).code ?? null) : 0,
          stdout,
          stderr,
          ms: performance.now() - t0,
        }),
    )
  })
}

const lines = (stdout: string) =>
  stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => BackendProbeLineSchema.parse(JSON.parse(l)))

test('the real probe on this machine finds the CPU build usable and says why each GPU build is not, within its deadline', async () => {
  const run = await runProbe([], 60_000)
  assert.equal(run.code, 0, run.stderr)
  assert.ok(run.ms < 60_000)
  const all = lines(run.stdout)
  const summary = all.at(-1)
  assert.equal(summary?.type, 'backend_probe')
  const probe: BackendProbe = BackendProbeSchema.parse(summary)
  // One progress line per build, in probe order, before the summary.
  assert.deepEqual(
    all.slice(0, -1).map((l) => (l.type === 'backend_checked' ? l.backend : l.type)),
    ['cpu', 'cuda', 'vulkan', 'metal'],
  )
  assert.deepEqual(
    probe.backends.map((b) => b.backend),
    ['cpu', 'cuda', 'vulkan', 'metal'],
  )
  assert.equal(probe.platform, process.platform)
  assert.match(probe.node_llama_cpp, /^3\.21\./)
  const cpu = probe.backends.find((b) => b.backend === 'cpu')!
  assert.equal(cpu.usable, true, cpu.reason)
  for (const b of probe.backends.filter((x) => x.backend !== 'cpu')) {
    if (b.usable) {
      assert.ok(b.devices.length > 0, `${b.backend} is usable only with a GPU to run on`)
      continue
    }
    // Whatever is true here, the reason says it in words, never a bare NoBinaryFoundError.
    assert.ok(b.reason && b.reason.length > 20, `${b.backend} is unusable without a reason`)
    assert.doesNotMatch(b.reason, /^NoBinaryFoundError$/)
  }
  if (process.platform !== 'darwin') {
    assert.equal(
      probe.backends.find((b) => b.backend === 'metal')?.reason,
      `Metal runs only on macOS (this machine runs ${process.platform})`,
    )
  }
})

test('the probe tries only the builds named, and refuses a name that is not a backend', async () => {
  const run = await runProbe(['metal,cpu'], 60_000)
  assert.equal(run.code, 0, run.stderr)
  const probe = BackendProbeSchema.parse(lines(run.stdout).at(-1))
  assert.deepEqual(
    probe.backends.map((b) => [b.backend, b.usable]),
    [
      ['metal', process.platform === 'darwin' && process.arch === 'arm64'],
      ['cpu', true],
    ],
  )
  const bad = await runProbe(['rocm'], 20_000)
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /--probe-backends: "rocm" is not one of cpu, cuda, vulkan, metal/)
})
