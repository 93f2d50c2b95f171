import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { type FleetStatus, FleetStatusSchema } from '@rbee/contracts'
import { TINY_MODEL_SPEC, writeLlamaModel } from '@rbee/gguf'
import OpenAI from 'openai'
import { canCreateNetworks, daemonCommand, printFleetFigures, startFleet } from '../index.js'
import { Load, summarize } from './fleet-load.js'

const skip = (await canCreateNetworks()) ? false : 'needs root and iproute2 to create network namespaces'
const run = promisify(execFile)

test('three hosts and two models: each model runs only on the hosts that have it, workers are addressed by host address, and rbee status shows all three', {
  skip,
  timeout: 120_000,
}, async (t) => {
  const fleet = await startFleet({ hosts: 3 })
  t.after(() => fleet.close())
  // Two models of the tiny model's shape with other weights: alpha on host 0, beta on hosts 1 and 2.
  const models = join(fleet.dir, 'models')
  await mkdir(models)
  const alphaPath = join(models, 'alpha.gguf')
  const betaPath = join(models, 'beta.gguf')
  await writeLlamaModel({ ...TINY_MODEL_SPEC, name: 'alpha', seed: 0xa1fa }, alphaPath)
  await writeLlamaModel({ ...TINY_MODEL_SPEC, name: 'beta', seed: 0xbe7a }, betaPath)
  await fleet.importModel(0, alphaPath, 'alpha')
  await fleet.importModel(1, betaPath, 'beta')
  await fleet.importModel(2, betaPath, 'beta')

  const openai = new OpenAI({ baseURL: `${fleet.queen.url}/v1`, apiKey: fleet.apiKey, maxRetries: 0 })
  const listed = (await openai.models.list()).data.map((m) => m.id)
  assert.deepEqual(listed, ['alpha', 'beta', 'tiny'])

  // No worker yet: the queen spawns each model on a hive that has it.
  const spawnedAt = Date.now()
  const first = await new Load({
    queenUrl: fleet.queen.url,
    apiKey: fleet.apiKey,
    model: (i) => (i % 2 === 0 ? 'alpha' : 'beta'),
    total: 12,
    concurrency: 12,
    maxTokens: 16,
  }).start().done
  assert.equal(summarize(first).ok, 12, JSON.stringify(first.filter((r) => !r.ok).slice(0, 2)))
  const onDemandMs = Math.max(...first.map((r) => (r.firstTokenAt ?? r.endedAt) - spawnedAt))

  // A second beta worker on the beta host that has none, then beta traffic spread over both.
  const status1 = await fleet.status()
  const betaHive = status1.workers.find((w) => w.model_id === 'beta')?.hive_id
  const otherBeta = betaHive === 'hive-1' ? 2 : 1
  await fleet.spawnWorker(otherBeta, 'beta')
  const second = await new Load({
    queenUrl: fleet.queen.url,
    apiKey: fleet.apiKey,
    model: (i) => (i % 3 === 0 ? 'alpha' : 'beta'),
    total: 24,
    concurrency: 12,
    maxTokens: 16,
  }).start().done
  assert.equal(summarize(second).ok, 24)

  const status = await fleet.status()
  const hiveOf = new Map(status.workers.map((w) => [w.id, w.hive_id]))
  const landed: Record<string, Record<string, number>> = { alpha: {}, beta: {} }
  for (const r of [...first, ...second]) {
    const hive = hiveOf.get(r.worker ?? '') ?? `unknown worker ${r.worker}`
    landed[r.model]![hive] = (landed[r.model]![hive] ?? 0) + 1
  }

  // `rbee status` (the CLI) against the same queen.
  const env = {
    PATH: process.env.PATH,
    HOME: fleet.dir,
    NO_COLOR: '1',
    RBEE_QUEEN_URL: fleet.queen.url,
    RBEE_API_KEY: fleet.apiKey,
  }
  const runRbee = (args: string[]) => {
    const rbee = daemonCommand('rbee', args)
    return run(rbee.command, rbee.args, { env, timeout: 30_000 })
  }
  const cli = FleetStatusSchema.parse(JSON.parse((await runRbee(['status', '--json'])).stdout))
  const table = (await runRbee(['status'])).stdout

  printFleetFigures('routing', {
    hosts: 3,
    on_demand_spawn_first_tokens_ms: onDemandMs,
    requests: first.length + second.length,
    failed: [...first, ...second].filter((r) => !r.ok).length,
    landed,
    workers: status.workers.map((w) => ({ id: w.id, model: w.model_id, hive: w.hive_id, url: w.url })),
  })

  assert.deepEqual(Object.keys(landed.alpha!), ['hive-0'], 'alpha runs only on host 0')
  assert.deepEqual(Object.keys(landed.beta!).sort(), ['hive-1', 'hive-2'], 'beta runs on both hosts 1 and 2')
  const checkAddresses = (s: FleetStatus, where: string): void => {
    assert.equal(s.hives.length, 3, where)
    for (const [i, h] of fleet.hives.entries()) {
      const rec = s.hives.find((x) => x.id === h.id)
      assert.equal(rec?.online, true, `${where}: ${h.id} online`)
      assert.equal(rec?.url, `http://${h.host.address}:7835`, `${where}: ${h.id} by its host address`)
      for (const w of s.workers.filter((x) => x.hive_id === h.id)) {
        assert.match(w.url, new RegExp(`^http://${h.host.address.replaceAll('.', '\\.')}:\\d+$`), where)
        assert.equal(w.host, fleet.hives[i]!.host.address)
      }
    }
    for (const w of s.workers) assert.doesNotMatch(w.url, /localhost|127\.0\.0\.1|\[::1\]/, where)
  }
  checkAddresses(status, 'status job')
  checkAddresses(cli, 'rbee status --json')
  assert.equal(cli.workers.length, 3)
  for (const h of fleet.hives)
    assert.match(table, new RegExp(`${h.id}\\s+up\\s+http://${h.host.address}:7835`))
})
