import { execFile } from 'node:child_process'
import { existsSync, readFileSync, realpathSync } from 'node:fs'
import { mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { RbeeError } from '@rbee/common/base'

const run = promisify(execFile)

/** The machine a bundle is for. */
export interface BundleTarget {
  platform: string
  arch: string
  /** `process.versions.modules` there. */
  modules: string
  cuda: boolean
  vulkan: boolean
}

/** One directory copied into the bundle. */
export interface BundleEntry {
  /** Path inside the bundle, e.g. `node_modules/fastify` or `packages/hive`. */
  at: string
  /** Where it is copied from. */
  from: string
}

/** What goes into a bundle. */
export interface BundlePlan {
  /** `@rbee/*` packages as `packages/<short>` (package.json + dist). */
  packages: Array<{ name: string; short: string; dir: string; manifest: PackageJson }>
  /** Third-party packages, at their place in the node_modules tree. Empty without node_modules. */
  modules: BundleEntry[]
  /** Optional packages left out (other platforms, GPU runtimes the target lacks). */
  skipped: string[]
  /** The bundle carries node_modules (else `npm install --omit=dev` runs there). */
  withNodeModules: boolean
  /** Why node_modules are left out, when they are. */
  npmReason: string | undefined
}

interface PackageJson {
  name?: string
  version?: string
  dependencies?: Record<string, string>
  optionalDependencies?: Record<string, string>
  peerDependencies?: Record<string, string>
  peerDependenciesMeta?: Record<string, { optional?: boolean }>
  os?: string[]
  cpu?: string[]
  [k: string]: unknown
}

function readJson(path: string): PackageJson {
  return JSON.parse(readFileSync(path, 'utf8')) as PackageJson
}

/** Where `name` is found from `fromDir`, by Node's node_modules walk; undefined if nowhere. */
export function findPackageDir(name: string, fromDir: string): string | undefined {
  let dir = fromDir
  for (;;) {
    const candidate = join(dir, 'node_modules', name)
    if (existsSync(join(candidate, 'package.json'))) return candidate
    const parent = dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
}

/** The directory of the installed `@rbee/hive` package (the root of what a hive needs). */
export function hivePackageDir(): string {
  try {
    return dirname(dirname(fileURLToPath(import.meta.resolve('@rbee/hive'))))
  } catch (err) {
    throw new RbeeError(
      'RBEE_CONFIG',
      'cannot find @rbee/hive next to the CLI: is rbee built (npm run build)?',
      {
        cause: err,
      },
    )
  }
}

function platformFits(m: PackageJson, t: BundleTarget): boolean {
  const fits = (list: string[] | undefined, v: string): boolean => {
    if (!list || list.length === 0) return true
    const allowed = list.filter((x) => !x.startsWith('!'))
    if (list.includes(`!${v}`)) return false
    return allowed.length === 0 || allowed.includes(v)
  }
  return fits(m.os, t.platform) && fits(m.cpu, t.arch)
}

const ARCHES = ['x64', 'arm64', 'armv7l', 'arm', 'ia32', 'riscv64', 'ppc64', 's390x']

/**
 * Prebuilt-binary packages name their target (`@node-llama-cpp/linux-arm64`); some declare
 * more CPUs in package.json than they carry binaries for, so the name decides too.
 */
function nameFits(name: string, t: BundleTarget): boolean {
  const segments = name.split(/[-/@]/)
  return !segments.some((s) => ARCHES.includes(s) && s !== t.arch)
}

/** GPU runtimes are only worth shipping where the matching GPU stack exists. */
function gpuFits(name: string, t: BundleTarget): boolean {
  if (/cuda/i.test(name)) return t.cuda
  if (/vulkan/i.test(name)) return t.vulkan
  return true
}

/**
 * Works out what a hive needs on the target: the `@rbee` packages from `@rbee/hive` down, and
 * (when the target runs the same platform, CPU and Node ABI as here, so native addons such as
 * better-sqlite3 load there) their production dependencies, without dev tools and without the
 * optional binaries that cannot run there.
 */
export function planBundle(target: BundleTarget, hiveDir = hivePackageDir()): BundlePlan {
  const sameAbi =
    target.platform === process.platform &&
    target.arch === process.arch &&
    target.modules === process.versions.modules
  const npmReason = sameAbi
    ? undefined
    : `it runs ${target.platform}-${target.arch} with Node ABI ${target.modules}, this machine ${process.platform}-${process.arch} with ABI ${process.versions.modules}, so native addons built here would not load there`
  const root = dirname(dirname(dirname(findRoot(hiveDir))))
  const packages: BundlePlan['packages'] = []
  const modules = new Map<string, BundleEntry>()
  const skipped: string[] = []
  const seen = new Set<string>()

  const visit = (dir: string, optional: boolean): void => {
    const real = realpathSync(dir)
    if (seen.has(real)) return
    seen.add(real)
    const manifest = readJson(join(dir, 'package.json'))
    const name = manifest.name ?? ''
    if (name.startsWith('@rbee/')) {
      if (!existsSync(join(real, 'dist'))) {
        throw new RbeeError(
          'RBEE_CONFIG',
          `${name} is not built (no ${join(real, 'dist')}): run npm run build first`,
        )
      }
      packages.push({ name, short: name.slice('@rbee/'.length), dir: real, manifest })
    } else {
      if (
        optional &&
        (!platformFits(manifest, target) || !nameFits(name, target) || !gpuFits(name, target))
      ) {
        skipped.push(name)
        return
      }
      const at = relative(root, dir)
      if (at.startsWith('..')) {
        throw new RbeeError('RBEE_CONFIG', `cannot bundle ${name}: it lives outside ${root} (${dir})`)
      }
      modules.set(at, { at: at.split(sep).join('/'), from: real })
    }
    const deps: Array<[string, boolean]> = [
      ...Object.keys(manifest.dependencies ?? {}).map((d): [string, boolean] => [d, false]),
      ...Object.keys(manifest.optionalDependencies ?? {}).map((d): [string, boolean] => [d, true]),
      ...Object.keys(manifest.peerDependencies ?? {})
        .filter((d) => !manifest.peerDependenciesMeta?.[d]?.optional)
        .map((d): [string, boolean] => [d, false]),
    ]
    for (const [dep, opt] of deps) {
      const found = findPackageDir(dep, real)
      if (!found) {
        if (opt || manifest.optionalDependencies?.[dep] !== undefined) continue
        throw new RbeeError(
          'RBEE_CONFIG',
          `${name} needs ${dep}, which is not installed here (run npm install)`,
        )
      }
      visit(found, opt || manifest.optionalDependencies?.[dep] !== undefined)
    }
  }
  visit(hiveDir, false)
  return {
    packages,
    modules: sameAbi ? [...modules.values()].sort((a, b) => a.at.localeCompare(b.at)) : [],
    skipped: sameAbi ? skipped.sort() : [],
    withNodeModules: sameAbi,
    npmReason,
  }
}

/** `…/node_modules/@rbee/hive` (the unresolved path) for a package dir found via node_modules. */
function findRoot(hiveDir: string): string {
  // hiveDir may be the real path (packages/hive in a checkout); find the node_modules link to it.
  let dir = hiveDir
  for (;;) {
    const link = join(dir, 'node_modules', '@rbee', 'hive')
    if (existsSync(link) && realpathSync(link) === realpathSync(hiveDir)) return link
    const parent = dirname(dir)
    if (parent === dir) {
      throw new RbeeError(
        'RBEE_CONFIG',
        `cannot find the node_modules that holds @rbee/hive above ${hiveDir}`,
      )
    }
    dir = parent
  }
}

/** Files never shipped: tests, build caches, sources and local builds of native packages. */
export const BUNDLE_EXCLUDES = [
  '*.test.js',
  '*.test.js.map',
  '*.test.d.ts',
  '*.test.d.ts.map',
  '.tsbuildinfo',
  'node_modules/.bin',
  'node_modules/node-llama-cpp/llama/localBuilds',
  'node_modules/node-llama-cpp/llama/gitRelease.bundle',
  'node_modules/node-llama-cpp/llama/llama.cpp',
  'node_modules/node-llama-cpp/llama/lastBuild.json',
  'node_modules/better-sqlite3/deps',
  'node_modules/better-sqlite3/src',
  'node_modules/better-sqlite3/build/Release/obj',
  'node_modules/better-sqlite3/build/Release/obj.target',
  'node_modules/better-sqlite3/build/Release/.deps',
  'node_modules/better-sqlite3/build/Release/test_extension.node',
  'node_modules/better-sqlite3/build/Release/sqlite3.a',
  'node_modules/better-sqlite3/build/deps',
]

/** A package.json fit for the target: no dev dependencies, no scripts. */
function shippedManifest(m: PackageJson): PackageJson {
  const { devDependencies: _d, scripts: _s, ...rest } = m
  return rest
}

/** A built bundle: a .tar.gz ready to copy. */
export interface Bundle {
  file: string
  bytes: number
  plan: BundlePlan
  /** Removes the tarball and its temporary directory. */
  dispose(): Promise<void>
}

/**
 * Writes the bundle as a gzipped tarball: a workspace root (`package.json` with
 * `workspaces: ["packages/*"]`), `packages/<name>/{package.json,dist}` and, when the plan has
 * them, the node_modules. Uses the system `tar` (following the staging directory's symlinks).
 */
export async function writeBundle(plan: BundlePlan, version: string): Promise<Bundle> {
  const tmp = await mkdtemp(join(tmpdir(), 'rbee-bundle-'))
  const dispose = (): Promise<void> => rm(tmp, { recursive: true, force: true })
  try {
    const stage = join(tmp, 'stage')
    await mkdir(join(stage, 'packages'), { recursive: true })
    for (const p of plan.packages) {
      const dir = join(stage, 'packages', p.short)
      await mkdir(dir)
      await writeFile(join(dir, 'package.json'), `${JSON.stringify(shippedManifest(p.manifest), null, 2)}\n`)
      await symlink(join(p.dir, 'dist'), join(dir, 'dist'))
    }
    for (const m of plan.modules) {
      const at = join(stage, ...m.at.split('/'))
      await mkdir(dirname(at), { recursive: true })
      // A nested package (node_modules/a/node_modules/b) sits inside a linked one; the link
      // already carries it.
      if (existsSync(at)) continue
      await symlink(m.from, at)
    }
    await writeFile(
      join(stage, 'package.json'),
      `${JSON.stringify(
        { name: 'rbee-hive-install', version, private: true, type: 'module', workspaces: ['packages/*'] },
        null,
        2,
      )}\n`,
    )
    await writeFile(
      join(stage, 'bundle.json'),
      `${JSON.stringify(
        {
          version,
          built_at: new Date().toISOString(),
          node_modules: plan.withNodeModules
            ? `${process.platform}-${process.arch}-abi${process.versions.modules}`
            : null,
          packages: plan.packages.map((p) => p.name),
          skipped_optional: plan.skipped,
        },
        null,
        2,
      )}\n`,
    )
    const file = join(tmp, 'rbee-hive.tar.gz')
    const excludes = BUNDLE_EXCLUDES.map((e) => `--exclude=${e}`)
    try {
      // gzip -1: the bundle is mostly binaries; a higher level costs seconds and saves little.
      await run(
        'tar',
        ['-c', '-h', '-f', file, '--use-compress-program=gzip -1', ...excludes, '-C', stage, '.'],
        {
          maxBuffer: 16 * 1024 * 1024,
        },
      )
    } catch (err) {
      throw new RbeeError('RBEE_CONFIG', `cannot write the bundle with tar: ${(err as Error).message}`, {
        cause: err,
      })
    }
    return { file, bytes: (await stat(file)).size, plan, dispose }
  } catch (err) {
    await dispose()
    throw err
  }
}
