import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  ProcessSampler,
  type ProcSample,
  parseProcIo,
  parseProcStat,
  parseProcStatusRssKb,
  ratesBetween,
  readProcSample,
} from './proc-stats.js'

// A real /proc/<pid>/stat line of a node process whose name holds a space and a parenthesis.
const STAT =
  '48211 (node (worker) x) S 48200 48211 48200 0 -1 4194304 12345 0 3 0 250 75 0 0 20 0 11 0 123456 1234567890 28600 18446744073709551615 1 1 0 0 0 0 0 16781312 134235650 0 0 0 17 1 0 0 0 0 0'

test('a /proc stat line is parsed from the last parenthesis, whatever the command name holds', () => {
  assert.deepEqual(parseProcStat(STAT), {
    comm: 'node (worker) x',
    state: 'S',
    cpuTicks: 325,
    startTicks: 123456,
  })
  assert.throws(() => parseProcStat('garbage'), /not a \/proc stat line/)
})

test('RSS comes from VmRSS and I/O from read_bytes/write_bytes', () => {
  assert.equal(parseProcStatusRssKb('Name:\tnode\nVmRSS:\t  114472 kB\nThreads:\t11\n'), 114472)
  assert.equal(parseProcStatusRssKb('Name:\tzombie\n'), 0)
  assert.deepEqual(parseProcIo('rchar: 10\nwchar: 20\nread_bytes: 4096\nwrite_bytes: 8192\n'), {
    readBytes: 4096,
    writeBytes: 8192,
  })
})

test('cpu_pct and I/O rates come from deltas between two samples', () => {
  const a: ProcSample = {
    pid: 1,
    atMs: 0,
    cpuTicks: 100,
    rssKb: 2048,
    readBytes: 0,
    writeBytes: 0,
    uptimeS: 10,
  }
  const b: ProcSample = { ...a, atMs: 2000, cpuTicks: 400, readBytes: 4 * 1024 * 1024, uptimeS: 12 }
  assert.deepEqual(ratesBetween(a, b), { cpu_pct: 150, rss_mb: 2, io_r_mb_s: 2, io_w_mb_s: 0, uptime_s: 12 })
  assert.deepEqual(ratesBetween(undefined, b), {
    cpu_pct: 0,
    rss_mb: 2,
    io_r_mb_s: 0,
    io_w_mb_s: 0,
    uptime_s: 12,
  })
})

test('this process can be sampled from the real /proc, and a gone pid reads as undefined', async () => {
  const sampler = new ProcessSampler()
  assert.ok(await sampler.sample(process.pid))
  const end = Date.now() + 150
  while (Date.now() < end) Math.sqrt(Math.random()) // burn some CPU between the samples
  const second = await sampler.sample(process.pid)
  assert.ok(second && second.rss_mb > 10 && second.uptime_s > 0 && second.cpu_pct > 0, JSON.stringify(second))
  assert.equal(await readProcSample(2 ** 22 + 12345), undefined)
})
