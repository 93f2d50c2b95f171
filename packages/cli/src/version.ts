/** The CLI's version (`rbee --version`), also the version of a bundle it installs. */
export const VERSION = '0.1.0'
