import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type DownloadReporter, SharedDownload } from './shared-download.js'

/** A job as a download sees it: its cancel switch and what it heard. */
function job(): DownloadReporter & { heard: string[]; cancel: (why: string) => void } {
  const ac = new AbortController()
  const heard: string[] = []
  return {
    signal: ac.signal,
    narrate: (_action, human) => heard.push(human),
    heard,
    cancel: (why) => ac.abort(new Error(why)),
  }
}

/** A transfer that reports half-way, then ends when `finish` is called or its signal aborts. */
function transfer(): { run: (r: DownloadReporter) => Promise<string>; finish: () => void } {
  let finish!: () => void
  return {
    finish: () => finish(),
    run: (r) =>
      new Promise<string>((resolve, reject) => {
        r.narrate('download_progress', 'half', { progress: 0.5 })
        finish = () => {
          r.narrate('download_progress', 'all', { progress: 1 })
          resolve('entry')
        }
        r.signal.addEventListener('abort', () => reject(r.signal.reason), { once: true })
      }),
  }
}

test('a shared download goes on when the job that started it is cancelled, and a late job hears the latest progress', async () => {
  const shared = new SharedDownload<string>('leader')
  const leader = job()
  const follower = job()
  const t = transfer()
  shared.join(leader)
  const result = shared.run(t.run)
  shared.join(follower)
  assert.deepEqual(follower.heard, ['half'])
  leader.cancel('leader cancelled')
  assert.equal(shared.signal.aborted, false)
  t.finish()
  assert.equal(await result, 'entry')
  assert.deepEqual(follower.heard, ['half', 'all'])
  assert.deepEqual(leader.heard, ['half'])
})

test('a shared download stops once every job has left it, with the reason of the last one', async () => {
  const shared = new SharedDownload<string>('leader')
  const [a, b] = [job(), job()]
  shared.join(a)
  const result = shared.run(transfer().run)
  shared.join(b)
  b.cancel('first to go')
  a.cancel('hive stopping')
  await assert.rejects(result, /hive stopping/)
})
