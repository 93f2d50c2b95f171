// Helpers shared by this package's integration tests. Not exported from the package entry point.

import { readFileSync } from 'node:fs'

export { metricValue, waitFor } from '@rbee/testing'

/**
 * What waits to be read on this machine's TCP sockets bound to local `port`, from
 * /proc/net/tcp{,6} (Linux): bytes received on its connections, plus connections its listening
 * socket has not accepted. Above 0 while a frozen server has a request it cannot read.
 */
export function unreadBytesAt(port: number): number {
  let sum = 0
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue ...
      const f = line.trim().split(/\s+/)
      if (f.length < 5) continue
      const local = f[1]!
      if (Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16) !== port) continue
      sum += Number.parseInt(f[4]!.split(':')[1]!, 16)
    }
  }
  return sum
}
