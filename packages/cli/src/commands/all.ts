import type { Command } from './command.js'
import { configCommand } from './config.js'
import { doctorCommand } from './doctor.js'
import { hiveCommands } from './hive.js'
import { inferCommand } from './infer.js'
import { modelCommands } from './model.js'
import { queenCommands } from './queen.js'
import { statusCommand } from './status.js'
import { workerCommands } from './worker.js'

/** Every `rbee` command, in the order `rbee --help` lists them. */
export const COMMANDS: readonly Command[] = [
  inferCommand,
  statusCommand,
  doctorCommand,
  ...queenCommands,
  ...hiveCommands,
  ...workerCommands,
  ...modelCommands,
  configCommand,
]
