/**
 * `@rbee/local` composes `@rbee/queen` with `@rbee/hive`: the zero-config queen, which runs a
 * hive for its own machine when no hive is configured. `@rbee/queen` alone is a control plane
 * without llama.cpp.
 *
 * ```ts
 * const queen = new Queen({ localHive: inProcessHive({ home, importDirs: [] }) })
 * await queen.start()
 * ```
 */
export {
  type InProcessHiveOptions,
  inProcessHive,
  inProcessHiveFromConfig,
} from './in-process-hive.js'
