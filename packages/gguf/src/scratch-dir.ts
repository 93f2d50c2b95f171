import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'

/** A fresh temporary directory, removed after the test file's tests. Test-only helper. */
export async function scratchDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `rbee-gguf-${prefix}-`))
  after(() => rm(dir, { recursive: true, force: true }))
  return dir
}
