import { DEFAULT_WORKER_CTX_SIZE, DEFAULT_WORKER_SLOTS } from '@rbee/contracts'

/** Every default of llm-worker-rbee, once: its flag table and `--help` read them from here. */
export const WORKER_DEFAULTS = Object.freeze({
  backend: 'auto',
  device: '0',
  host: '127.0.0.1',
  port: 0,
  slots: DEFAULT_WORKER_SLOTS,
  ctxSize: DEFAULT_WORKER_CTX_SIZE,
  heartbeatIntervalMs: 10_000,
  slotWaitMs: 2000,
  graceMs: 10_000,
  llamaBuild: 'auto',
  warmup: 'auto',
} as const)
