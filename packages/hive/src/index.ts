export { type DataDir, dataDir } from './data-dir.js'
export { Hive, type HiveOptions, hiveIdFromHostname } from './hive.js'
export { VERSION } from './version.js'
export { DEFAULT_RESTART_POLICY, type RestartPolicy } from './workers/restart-policy.js'
