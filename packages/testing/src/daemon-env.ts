import { BACKEND_PROBE_FIXTURE } from './probe-fixtures.js'

/**
 * The environment of a daemon a test starts: the test's own, minus every inherited `RBEE_*` and
 * `HF_*` setting (so nothing from the developer's shell leaks in), quiet logs, a Hugging Face
 * endpoint on a closed loopback port so no test can reach the real hub by accident, and the
 * backend probe's test double for hives (a queen's local one included).
 */
export function daemonEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('RBEE_') && !k.startsWith('HF_')) env[k] = v
  }
  return {
    ...env,
    RBEE_LOG_LEVEL: process.env.RBEE_LOG_LEVEL ?? 'warn',
    HF_ENDPOINT: 'http://127.0.0.1:9',
    RBEE_BACKEND_PROBE: BACKEND_PROBE_FIXTURE,
    ...extra,
  }
}
