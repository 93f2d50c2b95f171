import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { RbeeError } from '@rbee/common/base'
import { hostileStrings } from '@rbee/testing'
import { shQuote } from './sh-quote.js'

const dir = mkdtempSync(join(tmpdir(), 'rbee-sh-quote-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const marker = join(dir, 'pwned')
const values = hostileStrings({ marker, seed: 14, random: 300 })

/** The words a shell sees in `printf '%s\0' <quoted values>`, run by `shell`. */
function wordsSeenBy(shell: string, words: string[]): string[] {
  const out = execFileSync(shell, ['-c', `printf '%s\\0' ${words.map(shQuote).join(' ')}`], {
    cwd: dir,
    maxBuffer: 64 * 1024 * 1024,
  })
  return out.toString('utf8').split('\0').slice(0, -1)
}

describe('shQuote', () => {
  for (const shell of ['/bin/sh', '/usr/bin/bash'].filter(existsSync)) {
    test(`${shell} reads every hostile value back as one word, exactly, and runs none of it`, () => {
      assert.deepEqual(wordsSeenBy(shell, values), values)
      assert.equal(existsSync(marker), false, 'a payload ran')
    })
  }

  test('a value with NUL is refused, since sh would cut it short there', () => {
    assert.throws(
      () => shQuote('/home/u/rbee\0; rm -rf ~'),
      (err) => err instanceof RbeeError && err.code === 'RBEE_CONFIG' && /NUL/.test(err.message),
    )
  })
})
