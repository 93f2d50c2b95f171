import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, extname, join, resolve } from 'node:path'

/** The executables the tests start, by the name a user runs. */
export type DaemonName = 'queen-rbee' | 'rbee-local' | 'rbee-hive' | 'llm-worker-rbee' | 'rbee'

/**
 * The package whose `bin` field names each executable: only for tests run with `node --test`
 * directly, without `scripts/test.mjs` (which finds every bin of the workspace by itself).
 */
const BIN_PACKAGE: Record<DaemonName, string> = {
  'queen-rbee': '@rbee/queen',
  'rbee-local': '@rbee/local',
  'rbee-hive': '@rbee/hive',
  'llm-worker-rbee': '@rbee/worker',
  rbee: '@rbee/cli',
}

/** The environment variable that gives the path of `name`: `RBEE_TEST_BIN_QUEEN_RBEE` for `queen-rbee`. */
export function daemonBinEnvVar(name: string): string {
  return `RBEE_TEST_BIN_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`
}

/**
 * The path of the executable `name`: from `RBEE_TEST_BIN_<NAME>`, which `scripts/test.mjs` sets
 * from the workspace packages' `bin` fields; when unset (a test run with `node --test` directly),
 * the `bin` entry of the package that ships it, found by ordinary package resolution.
 *
 * @throws Error naming the variable to set when neither gives a path.
 */
export function daemonBin(name: DaemonName): string {
  const fromEnv = process.env[daemonBinEnvVar(name)]
  if (fromEnv) return fromEnv
  try {
    return binOfPackage(BIN_PACKAGE[name], name)
  } catch (err) {
    throw new Error(
      `cannot find the ${name} executable: set ${daemonBinEnvVar(name)} to its path, or run the tests through scripts/test.mjs`,
      { cause: err },
    )
  }
}

/**
 * How to start `name` with `args`: a JavaScript bin runs under this test's own node (a shebang
 * would pick whichever `node` is first on the PATH), any other bin (the worker's shell wrapper)
 * as a program.
 */
export function daemonCommand(name: DaemonName, args: string[]): { command: string; args: string[] } {
  const bin = daemonBin(name)
  return ['.js', '.mjs'].includes(extname(bin))
    ? { command: process.execPath, args: [bin, ...args] }
    : { command: bin, args }
}

/** The absolute path of `bin` in the `bin` field of package `pkg`. */
function binOfPackage(pkg: string, bin: string): string {
  let dir = dirname(createRequire(import.meta.url).resolve(pkg))
  for (;;) {
    const manifest = readManifest(join(dir, 'package.json'))
    if (manifest?.name === pkg) {
      const path = typeof manifest.bin === 'string' ? manifest.bin : manifest.bin?.[bin]
      if (!path) throw new Error(`${pkg} has no bin named ${bin}`)
      return resolve(dir, path)
    }
    if (dirname(dir) === dir) throw new Error(`no package.json of ${pkg} above its entry point`)
    dir = dirname(dir)
  }
}

function readManifest(path: string): { name?: string; bin?: string | Record<string, string> } | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as { name?: string; bin?: string | Record<string, string> }
  } catch {
    return undefined
  }
}
