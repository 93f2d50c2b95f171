import { basename } from 'node:path'
import { IdSchema } from '@rbee/contracts'

/**
 * The catalog id an imported file gets when none is given: its name without `.gguf`, with the
 * characters an id cannot hold replaced (`My Model.gguf` → `My-Model`); undefined when nothing
 * usable is left.
 */
export function modelIdFromFile(path: string): string | undefined {
  const stem = basename(path).replace(/\.gguf$/i, '')
  const id = stem
    .replace(/[^A-Za-z0-9._:@-]/g, '-')
    .replace(/\.{2,}/g, '.')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 128)
  return IdSchema.safeParse(id).success ? id : undefined
}
