// The CLI's version (`rbee --version`), also the version of a bundle it installs: the release of
// this build, defined once in @rbee/contracts.
export { RBEE_VERSION as VERSION } from '@rbee/contracts'
