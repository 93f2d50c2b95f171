import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { z } from 'zod'

/** The workspace root: the first folder above @rbee/contracts whose package.json lists workspaces. */
function workspaceRoot(): string {
  let dir = dirname(createRequire(import.meta.url).resolve('@rbee/contracts'))
  while (dirname(dir) !== dir) {
    const manifest = join(dir, 'package.json')
    if (existsSync(manifest) && 'workspaces' in JSON.parse(readFileSync(manifest, 'utf8'))) return dir
    dir = dirname(dir)
  }
  throw new Error('no workspace root above @rbee/contracts')
}

const PackSchema = z.array(z.object({ name: z.string(), files: z.array(z.object({ path: z.string() })) }))

test('no package publishes its tests or test support; test support lives in @rbee/testing only', async () => {
  const { stdout } = await promisify(execFile)('npm', ['pack', '--dry-run', '--json', '--workspaces'], {
    cwd: workspaceRoot(),
    maxBuffer: 16 * 1024 * 1024,
  })
  const packs = PackSchema.parse(JSON.parse(stdout)).filter((p) => p.name !== '@rbee/testing')
  assert.ok(packs.length >= 8, `packed ${packs.map((p) => p.name).join(', ')}`)
  for (const pack of packs) {
    const leaked = pack.files
      .map((f) => f.path)
      .filter((path) => /\.test\.|(^|\/)(test-support|fixtures|it-helpers)\b|^src\//.test(path))
    assert.deepEqual(leaked, [], `${pack.name} publishes test support`)
  }
})
