import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import { test } from 'node:test'
import { waitFor } from '@rbee/testing'
import { HiveLiveness } from './hive-liveness.js'

const tcpSockets = (): number => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length

/**
 * A host whose kernel no longer completes connections: a listener with a backlog of 1 in a
 * stopped process, its accept queue filled, so further connection attempts hang in SYN retries.
 */
async function unansweringPort(t: { after: (fn: () => void) => void }): Promise<number> {
  const server = spawn(
    process.execPath,
    [
      '-e',
      "const s=require('net').createServer().listen({port:0,host:'127.0.0.1',backlog:1},()=>console.log(s.address().port))",
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  const fillers: Socket[] = []
  t.after(() => {
    for (const s of fillers) s.destroy()
    server.kill('SIGKILL')
  })
  const [line] = (await once(server.stdout, 'data')) as [Buffer]
  const port = Number(line.toString().trim())
  server.kill('SIGSTOP')
  let connected = 0
  for (let i = 0; i < 4; i++) {
    const s = connect({ host: '127.0.0.1', port })
    s.on('connect', () => connected++).on('error', () => {})
    fillers.push(s)
  }
  await waitFor('the accept queue to fill', () => connected >= 2, 5000, 10)
  return port
}

test('close() during a probe that hangs ends its connection attempt and timer at once', async (t) => {
  const port = await unansweringPort(t)
  const before = tcpSockets()
  const liveness = new HiveLiveness({
    url: `http://127.0.0.1:${port}`,
    probeAfterMs: 1,
    suspectAfterMs: 60_000,
    probeTimeoutMs: 60_000,
    onSuspect: () => {},
    onSteady: () => {},
    onUnreachable: () => {},
  })
  liveness.connected()
  await waitFor('the probe to start connecting', () => tcpSockets() > before, 5000, 1)
  liveness.close()
  // A destroyed handle is released on the loop's next turns; an abandoned attempt would stay for
  // the probe's 60 s timeout (its SYNs are never answered).
  await waitFor('the probe socket to close with the watch', () => tcpSockets() === before, 2000, 5)
})
