#!/usr/bin/env node
// The project's one test command (`npm test`): typecheck, lint, then every test file that
// tsc compiled, through node's own test runner. Ends with one summary line that CI reads.
//
//   node scripts/test.mjs                 everything
//   node scripts/test.mjs --only unit     skip *.int.test.js and *.fleet.test.js
//   node scripts/test.mjs --only integration | fleet
//   node scripts/test.mjs --skip-static   no typecheck/dashboard build/lint (tests only)
//   node scripts/test.mjs packages/worker  only test files under these paths
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const root = resolve(import.meta.dirname, '..')
const args = process.argv.slice(2)
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined
const skipStatic = args.includes('--skip-static')
const roots = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--only')

function run(title, cmd, cmdArgs) {
  console.log(`\n== ${title}: ${cmd} ${cmdArgs.join(' ')}`)
  const r = spawnSync(cmd, cmdArgs, { cwd: root, stdio: 'inherit' })
  return r.status ?? 1
}

const bin = (name) => join(root, 'node_modules', '.bin', name)

if (!skipStatic) {
  if (run('typecheck', bin('tsc'), ['-b']) !== 0) {
    console.log('\ntests: 0 passed, 1 failed (typecheck)')
    process.exit(1)
  }
  // The dashboard's bundle (vite), which the queen serves and the browser tests load.
  if (run('dashboard', bin('vite'), ['build', '--logLevel', 'warn', 'packages/web']) !== 0) {
    console.log('\ntests: 0 passed, 1 failed (dashboard build)')
    process.exit(1)
  }
  if (run('lint', bin('biome'), ['check', '.']) !== 0) {
    console.log('\ntests: 0 passed, 1 failed (lint)')
    process.exit(1)
  }
}

function kind(file) {
  if (file.endsWith('.fleet.test.js')) return 'fleet'
  if (file.endsWith('.int.test.js')) return 'integration'
  return 'unit'
}

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) walk(p, out)
    else if (name.endsWith('.test.js')) out.push(p)
  }
  return out
}

const files = []
for (const pkg of readdirSync(join(root, 'packages'))) {
  const dist = join(root, 'packages', pkg, 'dist')
  try {
    statSync(dist)
  } catch {
    continue
  }
  walk(dist, files)
}
const selected = files
  .filter((f) => !only || kind(f) === only)
  .filter((f) => roots.length === 0 || roots.some((r) => f.startsWith(resolve(root, r))))
  .sort()

if (selected.length === 0) {
  console.log('\ntests: 0 passed, 1 failed (no test files found: did `tsc -b` run?)')
  process.exit(1)
}

// The executables the tests start (`daemonBin()` in @rbee/testing), from the `bin` field of
// every workspace package: `RBEE_TEST_BIN_QUEEN_RBEE` for `queen-rbee`, and so on.
const rootManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
for (const workspace of rootManifest.workspaces) {
  const dir = join(root, workspace)
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
  const bins =
    typeof manifest.bin === 'string'
      ? { [manifest.name.split('/').pop()]: manifest.bin }
      : (manifest.bin ?? {})
  for (const [name, path] of Object.entries(bins)) {
    const envVar = `RBEE_TEST_BIN_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`
    process.env[envVar] ??= resolve(dir, path)
  }
}

const tapFile = join(mkdtempSync(join(tmpdir(), 'rbee-test-')), 'report.tap')
const status = run('tests', process.execPath, [
  '--test',
  '--test-timeout=180000',
  '--test-reporter=spec',
  '--test-reporter-destination=stdout',
  '--test-reporter=tap',
  `--test-reporter-destination=${tapFile}`,
  ...selected,
])

const tap = readFileSync(tapFile, 'utf8')
const count = (key) => Number(tap.match(new RegExp(`^# ${key} (\\d+)$`, 'm'))?.[1] ?? 0)
const passed = count('pass')
const failed = count('fail') + count('cancelled')
const skipped = count('skipped') + count('todo')
console.log(`\ntests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`)
process.exit(status === 0 && failed === 0 ? 0 : 1)
