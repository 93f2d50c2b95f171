import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

let gc: (() => void) | undefined

/**
 * Runs a full garbage collection in this process, without `--expose-gc` on the command line: for
 * tests of timers and signals that must survive collection while they wait.
 */
export function collectGarbage(): void {
  if (!gc) {
    setFlagsFromString('--expose-gc')
    gc = runInNewContext('gc') as () => void
  }
  gc()
}

/** Collects garbage every `everyMs` until the returned function is called. */
export function collectGarbageEvery(everyMs: number): () => void {
  const t = setInterval(collectGarbage, everyMs)
  return () => clearInterval(t)
}
