import assert from 'node:assert/strict'
import { open, readdir, readFile, stat, utimes } from 'node:fs/promises'
import { connect } from 'node:net'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { type ModelEntry, ModelEntrySchema, PEER_HUB_PATH } from '@rbee/contracts'
import {
  CutProxy,
  type JobRun,
  LocalHub,
  metricValue,
  payloadOf,
  postJob,
  runJob,
  type StartedHive,
  type StartedQueen,
  startHive,
  startQueen,
  tinyModelPath,
  waitFor,
} from '@rbee/testing'

// Three real hives and a real queen on loopback, sharing one node token, and a stand-in hub that
// records every request. hive-c is reached (by the queen and by its peers) only through a proxy
// that can cut it off mid-transfer, as a peer that dies would be.
const NODE_TOKEN = 'peer-download-node-token'
const FILE = 'big.Q4_K_M.gguf'
const REF = `hf:acme/big-GGUF:${FILE}`
// The tiny model's header and tensors, then zeros: a valid GGUF large enough to time a transfer.
const PADDING = 48 * 1024 * 1024

let hub: LocalHub
let proxy: CutProxy
let queen: StartedQueen
let hiveA: StartedHive
let hiveB: StartedHive
let hiveC: StartedHive
let bytes: Buffer

before(async () => {
  bytes = Buffer.concat([await readFile(await tinyModelPath()), Buffer.alloc(PADDING)])
  hub = await LocalHub.start()
  hub.addRepo('acme', 'big-GGUF', { [FILE]: bytes })
  proxy = await CutProxy.start()
  queen = await startQueen({ nodeToken: NODE_TOKEN, args: ['--no-local-hive'] })
  const hive = (hiveId: string, extra: string[] = []) =>
    startHive({
      hiveId,
      token: NODE_TOKEN,
      env: { HF_ENDPOINT: hub.url },
      args: ['--queen-url', queen.url, ...extra],
    })
  ;[hiveA, hiveB, hiveC] = await Promise.all([
    hive('hive-a', ['--peer-max-transfers', '1']),
    hive('hive-b'),
    hive('hive-c', ['--advertise-url', proxy.url]),
  ])
  proxy.target(hiveC.port)
  await waitFor('three hives online', async () => {
    const run = await runJob(queen.url, { operation: 'hive_list' })
    const hives = payloadOf<Array<{ online: boolean }>>(run, 'hive_list')
    return hives.filter((h) => h.online).length === 3
  })
})

after(async () => {
  await proxy?.close()
  await Promise.all([hiveA?.close(), hiveB?.close(), hiveC?.close()])
  await queen?.close()
  await hub?.close()
})

async function download(
  hiveId: string,
  extra: Record<string, unknown> = {},
): Promise<{ run: JobRun; s: number }> {
  const t0 = performance.now()
  const run = await runJob(queen.url, { operation: 'model_download', hive_id: hiveId, model: REF, ...extra })
  return { run, s: (performance.now() - t0) / 1000 }
}

const auth = { authorization: `Bearer ${NODE_TOKEN}` }
const said = (run: JobRun, pattern: RegExp): boolean => run.narrations.some((n) => pattern.test(n.human))
const fileRequests = (): number =>
  hub.requests.filter((r) => r.path.includes(FILE) || r.server === 'cdn').length

test('a second hive gets a model from a peer hive and never touches the hub', async (t) => {
  const fromHub = await download('hive-a')
  assert.equal(fromHub.run.outcome, 'done', fromHub.run.message ?? '')
  assert.ok(said(fromHub.run, /no other online hive has .*: hive-a fetches it from the hub/))
  assert.ok(said(fromHub.run, /^hive-a: downloading big\.Q4_K_M\.gguf of acme\/big-GGUF from the hub \(/))
  const hubFiles = fileRequests()
  const hubAll = hub.requests.length

  const fromPeer = await download('hive-b')
  assert.equal(fromPeer.run.outcome, 'done', fromPeer.run.message ?? '')
  assert.ok(said(fromPeer.run, /hive-b fetches .* from peer hive-a first, the hub only if that fails/))
  assert.ok(
    said(
      fromPeer.run,
      /^hive-b: downloading big\.Q4_K_M\.gguf of acme\/big-GGUF from peer hive-a \(127\.0\.0\.1\)/,
    ),
  )
  assert.ok(said(fromPeer.run, /^hive-b: sha256 verified/))
  const entry = ModelEntrySchema.parse(payloadOf<ModelEntry>(fromPeer.run, 'model'))
  assert.equal(entry.sha256, hub.sha256('acme', 'big-GGUF', FILE))
  assert.equal(entry.size_bytes, bytes.length)
  // Not one request of any kind reached the hub (listing, HEAD, bytes) for the peer's download.
  assert.equal(hub.requests.length, hubAll)
  assert.equal(fileRequests(), hubFiles)
  const sent = metricValue(
    await (await fetch(`${hiveA.url}/metrics`, { headers: auth })).text(),
    'rbee_hive_peer_bytes_sent_total',
  )
  assert.equal(sent, bytes.length, 'hive-a counts the bytes it sent to its peer')
  // The same file into hive-c from the hub alone (`sources: []`), under the same conditions (a
  // second download of a file the fleet already has): the time beside the peer's.
  const hubAgain = await download('hive-c', { sources: [] })
  assert.equal(hubAgain.run.outcome, 'done', hubAgain.run.message ?? '')
  assert.ok(said(hubAgain.run, /^hive-c: downloading big\.Q4_K_M\.gguf of acme\/big-GGUF from the hub \(/))
  const mb = bytes.length / (1024 * 1024)
  t.diagnostic(
    `# peer vs hub (${mb.toFixed(0)} MiB, loopback): hub ${hubAgain.s.toFixed(2)} s (first hub download ${fromHub.s.toFixed(2)} s), peer ${fromPeer.s.toFixed(2)} s, peer/hub ${(fromPeer.s / hubAgain.s).toFixed(2)}`,
  )
})

test("a peer's files need the node token, and only catalog files are served", async () => {
  const base = `${hiveB.url}${PEER_HUB_PATH}`
  const resolve = `${base}/acme/big-GGUF/resolve/main/${FILE}`
  assert.equal((await fetch(resolve)).status, 401)
  assert.equal(
    (await fetch(resolve, { headers: { authorization: 'Bearer not-the-node-token' } })).status,
    401,
  )
  assert.equal((await fetch(`${base}/api/models/acme/big-GGUF`)).status, 401)

  const head = await fetch(resolve, { method: 'HEAD', headers: auth })
  assert.equal(head.status, 200)
  assert.equal(head.headers.get('etag'), `"${hub.sha256('acme', 'big-GGUF', FILE)}"`)
  assert.equal(head.headers.get('content-length'), String(bytes.length))
  const ranged = await fetch(resolve, { headers: { ...auth, range: `bytes=${bytes.length - 10}-` } })
  assert.equal(ranged.status, 206)
  assert.equal(
    ranged.headers.get('content-range'),
    `bytes ${bytes.length - 10}-${bytes.length - 1}/${bytes.length}`,
  )
  assert.deepEqual(Buffer.from(await ranged.arrayBuffer()), bytes.subarray(bytes.length - 10))
  const listing = (await (await fetch(`${base}/api/models/acme/big-GGUF`, { headers: auth })).json()) as {
    siblings: Array<{ rfilename: string }>
  }
  assert.deepEqual(listing.siblings, [{ rfilename: FILE }])

  for (const path of [
    `/acme/big-GGUF/resolve/main/..%2F..%2Fcatalog.sqlite`,
    `/acme/big-GGUF/resolve/main/../../../catalog.sqlite`,
    `/..%2F..%2Fetc/passwd/resolve/main/x.gguf`,
    `/acme/big-GGUF/resolve/main/%2Fetc%2Fpasswd`,
    `/acme/big-GGUF/resolve/main/other.gguf`,
  ]) {
    const res = await fetch(`${base}${path}`, { headers: auth })
    assert.ok(res.status >= 400 && res.status < 500, `${path}: ${res.status}`)
    assert.ok(!(res.headers.get('content-type') ?? '').includes('octet-stream'), path)
    await res.body?.cancel()
  }
})

test('a peer sends at most --peer-max-transfers files at once; one more is told to come back later', async () => {
  const resolve = `${hiveA.url}${PEER_HUB_PATH}/acme/big-GGUF/resolve/main/${FILE}`
  const headers = { authorization: `Bearer ${NODE_TOKEN}` }
  const held = await fetch(resolve, { headers })
  assert.equal(held.status, 200)
  const reader = held.body!.getReader()
  await reader.read()
  const refused = await fetch(resolve, { headers })
  assert.equal(refused.status, 503)
  assert.ok(Number(refused.headers.get('retry-after')) > 0)
  assert.equal(refused.headers.get('etag'), null, 'a refusal says nothing about the file')
  assert.match(JSON.stringify(await refused.json()), /RBEE_BUSY/)
  assert.equal(
    metricValue(await (await fetch(`${hiveA.url}/metrics`, { headers })).text(), 'rbee_hive_peer_busy_total'),
    1,
  )
  // A HEAD sends no body: it is never refused.
  assert.equal((await fetch(resolve, { method: 'HEAD', headers })).status, 200)
  await reader.cancel()
  await waitFor('the slot is free again', async () => {
    const res = await fetch(resolve, { headers: { ...headers, range: 'bytes=0-15' } })
    await res.body?.cancel()
    return res.status === 206
  })
})

test('peers that hang up before their file is sent give their transfer slot back', async () => {
  const path = `${PEER_HUB_PATH}/acme/big-GGUF/resolve/main/${FILE}`
  const copy = (await readdir(hiveA.home, { recursive: true })).find((p) => p.endsWith(FILE))
  assert.ok(copy, `hive-a's copy of ${FILE}`)
  // More hang-ups than hive-a has slots (1). Each file's mtime is new, so the catalog hashes it
  // again before serving it: the request is reset while the hive is in that check.
  for (let i = 0; i < 4; i++) {
    const when = new Date(Date.UTC(2020, 0, 1 + i))
    await utimes(join(hiveA.home, copy), when, when)
    await new Promise<void>((resolve, reject) => {
      const socket = connect(hiveA.port, '127.0.0.1', () => {
        // A reset, not a FIN: the hive sees the connection gone while the request is in hand (it
        // keeps a half-closed one open until it has answered).
        socket.write(
          `GET ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${NODE_TOKEN}\r\nrange: bytes=0-15\r\n\r\n`,
          () => socket.resetAndDestroy(),
        )
      })
      socket.once('close', () => resolve())
      socket.once('error', reject)
    })
  }
  const status = await waitFor('a whole GET after the hang-ups', async () => {
    const res = await fetch(`${hiveA.url}${path}`, { headers: auth })
    await res.body?.cancel()
    return res.status === 503 ? undefined : res.status
  })
  assert.equal(status, 200)
})

test('a peer that dies mid-transfer: the download goes on from the hub where it stopped, checksum verified', async () => {
  // hive-b gives its copy up, then fetches it again from hive-c, which dies 4 MiB into the transfer.
  assert.equal(
    (await runJob(queen.url, { operation: 'model_delete', hive_id: 'hive-b', model: REF })).outcome,
    'done',
  )
  const cut = proxy.cutAfter(`${PEER_HUB_PATH}/acme/big-GGUF/resolve/`, 4 * 1024 * 1024, () => {
    process.kill(hiveC.pid, 'SIGKILL')
  })
  const cdnBefore = hub.requests.filter((r) => r.server === 'cdn').length
  const { run } = await download('hive-b', {
    sources: [{ kind: 'peer', hive_id: 'hive-c', url: proxy.url }],
  })
  await cut
  assert.equal(run.outcome, 'done', run.message ?? '')
  assert.ok(said(run, /^hive-b: downloading .* from peer hive-c \(127\.0\.0\.1\)/))
  assert.ok(said(run, /^hive-b: peer hive-c \(127\.0\.0\.1\) failed .*; going on from the hub/))
  assert.ok(said(run, /^hive-b: downloading .* from the hub .*resuming at/))
  assert.ok(said(run, /^hive-b: sha256 verified/))
  const cdn = hub.requests.filter((r) => r.server === 'cdn').slice(cdnBefore)
  assert.equal(cdn.length, 1, JSON.stringify(cdn))
  const resumedAt = Number(/^bytes=(\d+)-$/.exec(cdn[0]!.range ?? '')?.[1])
  assert.ok(resumedAt > 0 && resumedAt < bytes.length, `resumed at ${cdn[0]!.range}`)
  const entry = ModelEntrySchema.parse(payloadOf<ModelEntry>(run, 'model'))
  assert.equal(entry.sha256, hub.sha256('acme', 'big-GGUF', FILE))
})

/**
 * Changes the byte at `at` of hive-a's copy, keeping its size and mtime, so hive-a's catalog still
 * vouches for it (it re-hashes a file only when one of them changed); the returned function puts
 * the byte back.
 */
async function damageCopyOfA(at: number): Promise<() => Promise<void>> {
  const copy = join(
    hiveA.home,
    (await readdir(hiveA.home, { recursive: true })).find((p) => p.endsWith(FILE))!,
  )
  const { mtime } = await stat(copy)
  const put = async (byte: number): Promise<void> => {
    const fh = await open(copy, 'r+')
    await fh.write(Buffer.from([byte]), 0, 1, at)
    await fh.close()
    await utimes(copy, mtime, mtime)
  }
  await put(bytes[at]! ^ 0xff)
  return () => put(bytes[at]!)
}

const toldAll = (run: JobRun): string => run.narrations.map((n) => n.human).join('\n')

test('a peer whose copy does not match its sha256: the download starts again from the hub, checksum verified', async () => {
  assert.equal(
    (await runJob(queen.url, { operation: 'model_delete', hive_id: 'hive-b', model: REF })).outcome,
    'done',
  )
  const repair = await damageCopyOfA(bytes.length - 1024)
  try {
    const { run } = await download('hive-b', {
      sources: [{ kind: 'peer', hive_id: 'hive-a', url: hiveA.url }],
    })
    assert.equal(run.outcome, 'done', run.message ?? '')
    assert.ok(said(run, /^hive-b: downloading .* from peer hive-a \(127\.0\.0\.1\)/))
    assert.ok(
      said(
        run,
        /^hive-b: peer hive-a \(127\.0\.0\.1\) sent a file whose sha256 does not match; going on from the hub \(http:\/\/127\.0\.0\.1:\d+\)$/,
      ),
      toldAll(run),
    )
    assert.ok(said(run, /^hive-b: downloading .* from the hub \((?!.*resuming)/))
    assert.ok(said(run, /^hive-b: sha256 verified/))
    const entry = ModelEntrySchema.parse(payloadOf<ModelEntry>(run, 'model'))
    assert.equal(entry.sha256, hub.sha256('acme', 'big-GGUF', FILE))
  } finally {
    await repair()
  }
})

test("a peer that sent bad bytes and then died: the hub's resumed file does not match, so the hub sends it again from zero", async () => {
  assert.equal(
    (await runJob(queen.url, { operation: 'model_delete', hive_id: 'hive-b', model: REF })).outcome,
    'done',
  )
  // hive-a's copy is bad at 1 MiB and the connection to it is cut at 4 MiB: hive-b keeps the bad
  // bytes and the hub resumes after them. Asked of hive-b directly (as the queen would), with
  // hive-a behind a proxy of its own.
  const repair = await damageCopyOfA(1024 * 1024)
  const cutting = await CutProxy.start()
  try {
    cutting.target(hiveA.port)
    const cut = cutting.cutAfter(`${PEER_HUB_PATH}/acme/big-GGUF/resolve/`, 4 * 1024 * 1024, () => {})
    const cdnBefore = hub.requests.filter((r) => r.server === 'cdn').length
    const run = await runJob(
      hiveB.url,
      {
        operation: 'model_download',
        model: REF,
        sources: [{ kind: 'peer', hive_id: 'hive-a', url: cutting.url }],
      },
      { headers: auth },
    )
    await cut
    assert.equal(run.outcome, 'done', run.message ?? '')
    assert.ok(said(run, /going on from the hub/), toldAll(run))
    assert.ok(said(run, /from the hub .*resuming at/), toldAll(run))
    assert.ok(
      said(
        run,
        /^big\.Q4_K_M\.gguf does not match its sha256 after resuming a peer's bytes; downloading it again from the hub from the start$/,
      ),
      toldAll(run),
    )
    assert.ok(said(run, /^sha256 verified/), toldAll(run))
    const cdn = hub.requests.filter((r) => r.server === 'cdn').slice(cdnBefore)
    assert.deepEqual(
      cdn.map((r) => (r.range ?? '').startsWith('bytes=0-') || r.range === undefined),
      [false, true],
      JSON.stringify(cdn),
    )
    const entry = ModelEntrySchema.parse(payloadOf<ModelEntry>(run, 'model'))
    assert.equal(entry.sha256, hub.sha256('acme', 'big-GGUF', FILE))
  } finally {
    await cutting.close()
    await repair()
  }
})

test('the queen refuses a download source that is not a hive it knows, naming the field', async () => {
  const res = await postJob(queen.url, {
    operation: 'model_download',
    hive_id: 'hive-b',
    model: REF,
    sources: [{ kind: 'peer', hive_id: 'hive-a', url: 'http://203.0.113.9:7835' }],
  })
  assert.equal(res.status, 400)
  assert.match(JSON.stringify(res.body), /sources\.0\.url/)
})
