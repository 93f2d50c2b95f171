/** The version reported in WorkerInfo and /health. */
export const VERSION = '0.1.0'
