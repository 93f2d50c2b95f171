import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { canCreateNetworks, createTestNetwork } from './netns.js'

test('test hosts in network namespaces reach the machine and each other, and a downed link cuts one off', async (t) => {
  if (!(await canCreateNetworks())) {
    t.skip('needs root and iproute2 (CI runs as root)')
    return
  }
  const net = await createTestNetwork({ hosts: 2 })
  const server = createServer((_req, res) => res.end('hello from the machine'))
  try {
    await new Promise<void>((r) => server.listen(0, net.gateway, r))
    const port = (server.address() as AddressInfo).port
    const [a, b] = net.hosts
    assert.ok(a && b)
    assert.notEqual(a.address, b.address)
    const fetchFrom = (host: typeof a, url: string) =>
      host.exec(process.execPath, [
        '-e',
        `fetch(${JSON.stringify(url)},{signal:AbortSignal.timeout(1500)}).then(r=>r.text()).then(t=>process.stdout.write(t),()=>process.stdout.write('unreachable'))`,
      ])
    assert.equal(await fetchFrom(a, `http://${net.gateway}:${port}/`), 'hello from the machine')
    // A server inside host b, reached from host a over the test network.
    const inB = b.spawn({
      command: process.execPath,
      args: [
        '-e',
        `require('http').createServer((q,s)=>s.end('b')).listen(0,'${b.address}',function(){console.log(this.address().port)})`,
      ],
    })
    const bPort = Number(await inB.waitForLine((l) => /^\d+$/.test(l), 10_000))
    assert.equal(await fetchFrom(a, `http://${b.address}:${bPort}/`), 'b')
    await b.setLink(false)
    assert.equal(await fetchFrom(a, `http://${b.address}:${bPort}/`), 'unreachable')
    await b.setLink(true)
    assert.equal(await fetchFrom(a, `http://${b.address}:${bPort}/`), 'b')
  } finally {
    server.close()
    await net.close()
  }
  const left = execFileSync('ip', ['netns', 'list']).toString()
  for (const h of net.hosts) assert.ok(!left.includes(h.name), `namespace ${h.name} removed`)
})

test('a real sshd on a test host accepts the generated key for its throwaway user', async (t) => {
  const { canStartSshd, startSshd } = await import('./sshd.js')
  if (!(await canCreateNetworks()) || !(await canStartSshd())) {
    t.skip('needs root, iproute2 and openssh-server (installed by scripts/setup-system.sh)')
    return
  }
  const net = await createTestNetwork({ hosts: 1 })
  try {
    const sshd = await startSshd({ host: net.hosts[0]! })
    try {
      const out = execFileSync('ssh', [
        ...sshd.sshOptions,
        `${sshd.user}@${sshd.host}`,
        'whoami; node --version',
      ]).toString()
      assert.match(out, new RegExp(`^${sshd.user}\\nv\\d+`))
    } finally {
      await sshd.close()
    }
  } finally {
    await net.close()
  }
})
