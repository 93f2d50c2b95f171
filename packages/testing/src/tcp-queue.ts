import { readFileSync } from 'node:fs'

/**
 * The most bytes waiting to be read on any one TCP connection of this machine bound to local
 * `port`, from /proc/net/tcp{,6} (Linux). Above a request's size once a frozen server holds that
 * request unread; its hive's health probes, also unread while it is frozen, are one small GET per
 * connection and stay below.
 */
export function largestUnreadAt(port: number): number {
  let most = 0
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
      most = Math.max(most, Number.parseInt(f[4]!.split(':')[1]!, 16))
    }
  }
  return most
}
