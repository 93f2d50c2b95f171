/** The queen's version, reported by `/health` and `/v1/info`. */
export const VERSION = '0.1.0'
