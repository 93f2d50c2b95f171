import { readdirSync, readFileSync, statSync } from 'node:fs'
import { extname, join } from 'node:path'

/** One file of the built dashboard, as it is sent: its bytes, and gzipped when the build wrote that. */
export interface BundleFile {
  readonly type: string
  readonly body: Buffer
  readonly gzip: Buffer | undefined
}

/** The built dashboard in memory: `index.html` and the hashed `assets/*` (nothing else is served). */
export interface DashboardBundle {
  readonly index: BundleFile
  readonly assets: ReadonlyMap<string, BundleFile>
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
}

/** The most a bundle may hold, and files in `assets/`: a bound, far above the ~190 KB it is. */
export const BUNDLE_MAX_BYTES = 16 * 1024 * 1024
const BUNDLE_MAX_FILES = 256

/**
 * Reads a Vite build (`index.html`, `assets/<name>`, each with its optional `.gz`) into memory once,
 * so serving it touches no file system and needs no static-file library. Files of types not in
 * the table are left out.
 * @throws Error when the folder holds no `index.html` or more than the bounds.
 */
export function loadDashboardBundle(dir: string): DashboardBundle {
  let total = 0
  const read = (path: string): BundleFile => {
    const body = readFileSync(path)
    let gzip: Buffer | undefined
    try {
      gzip = readFileSync(`${path}.gz`)
    } catch {
      gzip = undefined
    }
    total += body.length + (gzip?.length ?? 0)
    if (total > BUNDLE_MAX_BYTES) throw new Error(`the dashboard in ${dir} is over ${BUNDLE_MAX_BYTES} bytes`)
    return { type: TYPES[extname(path)] ?? 'application/octet-stream', body, gzip }
  }
  const index = read(join(dir, 'index.html'))
  const assets = new Map<string, BundleFile>()
  const assetDir = join(dir, 'assets')
  let names: string[] = []
  try {
    names = readdirSync(assetDir)
  } catch {
    names = []
  }
  for (const name of names) {
    if (name.endsWith('.gz') || TYPES[extname(name)] === undefined) continue
    if (!statSync(join(assetDir, name)).isFile()) continue
    if (assets.size >= BUNDLE_MAX_FILES)
      throw new Error(`the dashboard in ${dir} has over ${BUNDLE_MAX_FILES} assets`)
    assets.set(name, read(join(assetDir, name)))
  }
  return { index, assets }
}
