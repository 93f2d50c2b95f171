// The dashboard's build: `vite build` writes dist/ui (index.html + hashed assets/) and a `.gz`
// beside each asset, which the queen sends to browsers that accept gzip (no compression at run
// time, no CDN: it must work on an offline LAN).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { defineConfig } from 'vite'

const outDir = 'dist/ui'

/** Writes `name.gz` for every asset and index.html after the bundle is written. */
function precompress() {
  return {
    name: 'rbee-precompress',
    apply: 'build',
    writeBundle(output) {
      const dir = output.dir ?? outDir
      const files = ['index.html', ...readdirSync(join(dir, 'assets')).map((f) => join('assets', f))]
      for (const f of files) {
        if (f.endsWith('.gz')) continue
        const path = join(dir, f)
        writeFileSync(`${path}.gz`, gzipSync(readFileSync(path), { level: 9 }))
      }
    },
  }
}

// `npx vite packages/web` serves the app with hot reload; API calls go to this queen.
const queen = process.env.RBEE_QUEEN_URL ?? 'http://127.0.0.1:7833'

export default defineConfig({
  base: '/',
  server: { proxy: { '/v1': { target: queen, changeOrigin: true } } },
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { outDir, emptyOutDir: true, target: 'es2022', sourcemap: false, reportCompressedSize: true },
  plugins: [precompress()],
})
