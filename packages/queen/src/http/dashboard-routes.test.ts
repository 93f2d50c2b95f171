import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { gzipSync } from 'node:zlib'
import Fastify from 'fastify'
import { DASHBOARD_MISSING, registerDashboardRoutes } from './dashboard-routes.js'

let dir: string
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rbee-dashboard-'))
  await mkdir(join(dir, 'assets'))
  await writeFile(join(dir, 'index.html'), '<!doctype html><title>rbee</title>')
  await writeFile(join(dir, 'assets', 'index-abc.js'), 'console.log(1)')
  await writeFile(join(dir, 'assets', 'index-abc.js.gz'), gzipSync('console.log(1)'))
})
after(() => rm(dir, { recursive: true, force: true }))

test('client-side routes answer index.html; assets come gzipped when accepted; nothing outside the folder', async () => {
  const app = Fastify()
  registerDashboardRoutes(app, { dir })
  for (const url of ['/', '/ui/models', '/ui/a/b']) {
    const res = await app.inject({ url })
    assert.equal(res.statusCode, 200, url)
    assert.match(res.body, /<title>rbee<\/title>/)
    assert.match(String(res.headers['content-security-policy']), /default-src 'self'/)
  }
  const js = await app.inject({ url: '/assets/index-abc.js', headers: { 'accept-encoding': 'gzip' } })
  assert.equal(js.statusCode, 200)
  assert.equal(js.headers['content-encoding'], 'gzip')
  assert.match(String(js.headers['cache-control']), /immutable/)
  for (const url of ['/assets/..%2Findex.html', '/assets/missing.js', '/other']) {
    assert.equal((await app.inject({ url })).statusCode, 404, url)
  }
  await app.close()
})

test('without a built dashboard, / says in words how to build it', async () => {
  const app = Fastify()
  registerDashboardRoutes(app, { dir: null })
  for (const url of ['/', '/ui/models']) {
    const res = await app.inject({ url })
    assert.equal(res.statusCode, 503)
    assert.equal(res.body.trim(), DASHBOARD_MISSING)
    assert.match(res.body, /npm run build -w @rbee\/web/)
  }
  assert.equal((await app.inject({ url: '/assets/index-abc.js' })).statusCode, 404)
  await app.close()
})

test('assets are sent plain to a caller that does not take gzip, with their type', async () => {
  const app = Fastify()
  registerDashboardRoutes(app, { dir })
  const js = await app.inject({ url: '/assets/index-abc.js' })
  assert.equal(js.statusCode, 200)
  assert.equal(js.headers['content-encoding'], undefined)
  assert.equal(js.body, 'console.log(1)')
  assert.match(String(js.headers['content-type']), /^text\/javascript/)
  await app.close()
})

test('a damaged build does not keep the routes from registering: / says what is wrong', async () => {
  const broken = await mkdtemp(join(tmpdir(), 'rbee-dashboard-broken-'))
  // An index.html that cannot be read as a file.
  await mkdir(join(broken, 'index.html'))
  const app = Fastify()
  registerDashboardRoutes(app, { dir: broken })
  const res = await app.inject({ url: '/' })
  assert.equal(res.statusCode, 503)
  assert.match(res.body, /build is damaged and cannot be served/)
  assert.doesNotMatch(res.body, new RegExp(broken))
  await app.close()
  await rm(broken, { recursive: true, force: true })
})
