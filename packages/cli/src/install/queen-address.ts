import { createSocket } from 'node:dgram'
import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import { isLoopbackHost } from '@rbee/common/base'
import { DEFAULT_QUEEN_URL, hostPortUrl } from '@rbee/contracts'

/**
 * The local address this machine would use to reach `host` (the source address of its route):
 * a connected UDP socket sends nothing, but the kernel picks the route and the address.
 */
export async function localAddressToward(host: string): Promise<string> {
  const address = isIP(host) ? host : (await lookup(host)).address
  const family = isIP(address) === 6 ? 'udp6' : 'udp4'
  const socket = createSocket(family)
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject)
      socket.connect(9, address, () => resolve())
    })
    return socket.address().address
  } finally {
    socket.close()
  }
}

/** Where a remote hive will find the queen, and how that was decided. */
export interface QueenAddressForHives {
  url: string
  how: 'flag' | 'queen' | 'derived'
}

/**
 * The queen URL a hive on `host` is to use: the one given, else the first of the URL this CLI
 * reaches the queen at and the queen's own advertised URL that is not a loopback or wildcard
 * address, else this machine's address on the route to `host` with the queen's port.
 */
export async function queenUrlForHive(
  explicit: string | undefined,
  candidates: readonly string[],
  host: string,
): Promise<QueenAddressForHives> {
  if (explicit) return { url: new URL(explicit).origin, how: 'flag' }
  for (const c of candidates) {
    const u = new URL(c)
    const h = u.hostname.replace(/^\[|\]$/g, '')
    if (!isLoopbackHost(h) && h !== '0.0.0.0' && h !== '::') return { url: u.origin, how: 'queen' }
  }
  const first = new URL(candidates[0] ?? DEFAULT_QUEEN_URL)
  const local = await localAddressToward(host)
  return { url: hostPortUrl(local, Number(first.port || 80)), how: 'derived' }
}
