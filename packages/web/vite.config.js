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

export default defineConfig({
  base: '/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { outDir, emptyOutDir: true, target: 'es2022', sourcemap: false, reportCompressedSize: true },
  plugins: [precompress()],
})
