import { networkInterfaces } from 'node:os'

/**
 * The first non-internal IPv4 address of this machine, used to advertise a daemon bound to a
 * wildcard address (`0.0.0.0`, `::`) to others; undefined on a machine with none.
 */
export function firstExternalIPv4(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (!a.internal && a.family === 'IPv4') return a.address
  }
  return undefined
}

/** True for `0.0.0.0` and `::`, which listen everywhere but cannot be connected to by others. */
export function isWildcardHost(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]'
}
