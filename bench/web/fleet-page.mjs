#!/usr/bin/env node
// The dashboard's fleet page under 100 hives × 10 workers of synthetic telemetry (see
// bench/web/RESULTS.md for the method and figures). Needs `npm run build` and /usr/bin/chromium.
//
//   node bench/web/fleet-page.mjs [--hives 100] [--workers 10] [--rounds 30]
import { parseArgs } from 'node:util'
import { chromium } from 'playwright-core'
import { startQueen } from '../../packages/testing/dist/index.js'
import { measureFleetPage, quantile } from '../../packages/web/dist/test/fleet-load.js'

const { values } = parseArgs({
  options: {
    hives: { type: 'string', default: '100' },
    workers: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '30' },
  },
})
const hives = Number(values.hives)
const workersPerHive = Number(values.workers)
const rounds = Number(values.rounds)

const queen = await startQueen({ args: ['--no-local-hive'] })
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] })
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
  await page.goto(queen.url)
  await page.getByRole('heading', { name: 'Fleet' }).waitFor()
  const r = await measureFleetPage(page, { hives, workersPerHive, rounds })
  const f = (v) => `${v.toFixed(0)} ms`
  console.log(
    `fleet page, ${hives} hives × ${workersPerHive} workers, ${rounds} rounds (every hive changed each round)`,
  )
  console.log(`  first draw:  ${f(r.firstMs)}`)
  console.log(
    `  update:      median ${f(quantile(r.updatesMs, 0.5))}, p95 ${f(quantile(r.updatesMs, 0.95))}, max ${f(Math.max(...r.updatesMs))}`,
  )
} finally {
  await browser.close()
  await queen.close()
}
