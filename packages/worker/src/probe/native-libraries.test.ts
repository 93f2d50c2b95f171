import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { loadsLibrary, vulkanDrivers } from './native-libraries.js'

let dir: string
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rbee-icd-'))
})
after(() => rm(dir, { recursive: true, force: true }))

test('the dynamic loader is asked for real: the C library loads, an absent library does not', () => {
  assert.deepEqual(loadsLibrary('libc.so.6'), { loads: true })
  const absent = loadsLibrary('libnot-a-real-library.so.9')
  assert.equal(absent.loads, false)
  assert.match(absent.error ?? '', /libnot-a-real-library\.so\.9: cannot open shared object file/)
})

test('Vulkan driver manifests are read and each driver library is loaded to see whether it works', async () => {
  const good = join(dir, 'good_icd.json')
  const broken = join(dir, 'nvidia_icd.json')
  await writeFile(good, JSON.stringify({ file_format_version: '1.0.0', ICD: { library_path: 'libm.so.6' } }))
  await writeFile(broken, JSON.stringify({ ICD: { library_path: 'libGLX_absent_vendor.so.0' } }))
  await writeFile(join(dir, 'not-a-manifest.json'), 'garbage')
  const drivers = vulkanDrivers({
    VK_DRIVER_FILES: [good, broken, join(dir, 'not-a-manifest.json')].join(':'),
  })
  assert.deepEqual(
    drivers.map((d) => [d.manifest, d.library, d.state.loads]),
    [
      [good, 'libm.so.6', true],
      [broken, 'libGLX_absent_vendor.so.0', false],
    ],
  )
})

test('without manifests in the standard places and no override, no Vulkan driver is found', () => {
  assert.deepEqual(
    vulkanDrivers({ XDG_DATA_DIRS: dir, XDG_CONFIG_DIRS: dir }).filter((d) => d.manifest.startsWith(dir)),
    [],
  )
})
