#!/usr/bin/env node
// queen-rbee as a control plane: no hive in its process (`rbee-local` of @rbee/local runs one).
import { runDaemon } from '@rbee/common'
import { queenDaemon } from './queen-daemon.js'

await runDaemon(queenDaemon())
