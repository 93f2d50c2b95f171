#!/usr/bin/env node
// rbee-local: queen-rbee with this machine's hive in its process (what `rbee queen start` runs).
import { runDaemon } from '@rbee/common'
import { queenDaemon } from '@rbee/queen'
import { inProcessHiveFromConfig } from './in-process-hive.js'

await runDaemon(queenDaemon(inProcessHiveFromConfig))
