// The release is defined once, with the wire protocol, in @rbee/contracts.
export { RBEE_PROTOCOL as PROTOCOL, RBEE_VERSION as VERSION } from '@rbee/contracts'
