import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * TEST DOUBLE of `llm-worker-rbee --probe-backends` (packages/hive/fixtures/backend-probe.mjs): it
 * prints the probe result in the file `RBEE_FIXTURE_PROBE` names, by default that of a machine
 * without a GPU, so tests do not depend on this machine's GPUs and drivers nor pay for the real
 * probe (about 2 s of CPU) at every hive start.
 */
export const BACKEND_PROBE_FIXTURE = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'hive',
  'fixtures',
  'backend-probe.mjs',
)
