import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { planBundle } from './bundle.js'

const here = {
  platform: process.platform,
  arch: process.arch,
  modules: process.versions.modules,
  cuda: false,
  vulkan: false,
}

describe('hive bundle plan', () => {
  test('a machine like this one gets the rbee packages and their production dependencies, without dev tools or GPU runtimes it lacks', () => {
    const plan = planBundle(here)
    assert.equal(plan.withNodeModules, true)
    const names = plan.packages.map((p) => p.name).sort()
    assert.deepEqual(names, ['@rbee/common', '@rbee/contracts', '@rbee/gguf', '@rbee/hive', '@rbee/worker'])
    const at = plan.modules.map((m) => m.at)
    for (const m of [
      'node_modules/better-sqlite3',
      'node_modules/fastify',
      'node_modules/zod',
      'node_modules/node-llama-cpp',
    ]) {
      assert.ok(at.includes(m), `${m} is bundled`)
    }
    if (process.platform === 'linux' && process.arch === 'x64') {
      assert.ok(at.includes('node_modules/@node-llama-cpp/linux-x64'))
      assert.ok(plan.skipped.includes('@node-llama-cpp/linux-x64-cuda'))
      assert.ok(plan.skipped.includes('@node-llama-cpp/linux-arm64'))
    }
    for (const dev of ['typescript', '@biomejs/biome', 'openai', '@rbee/testing', '@types/node']) {
      assert.ok(!at.includes(`node_modules/${dev}`) && !names.includes(dev), `${dev} is left out`)
    }
  })

  test('a machine with an NVIDIA GPU also gets the CUDA runtime', () => {
    const plan = planBundle({ ...here, cuda: true })
    if (process.platform === 'linux' && process.arch === 'x64') {
      assert.ok(plan.modules.some((m) => m.at === 'node_modules/@node-llama-cpp/linux-x64-cuda'))
    }
  })

  test('another Node ABI gets no node_modules, and says why', () => {
    const plan = planBundle({ ...here, modules: '999' })
    assert.equal(plan.withNodeModules, false)
    assert.equal(plan.modules.length, 0)
    assert.match(plan.npmReason ?? '', /ABI 999.*native addons built here would not load there/)
  })
})
