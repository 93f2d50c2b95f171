import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RbeeError } from '@rbee/common'
import { PromptBudget } from './prompt-budget.js'

const refused = (message: RegExp, path: string) => (err: unknown) => {
  assert.ok(err instanceof RbeeError, String(err))
  assert.equal(err.code, 'RBEE_PROMPT_TOO_LONG')
  assert.equal(err.status, 400)
  assert.match(err.message, message)
  assert.deepEqual(err.details, { issues: [{ path, message: 'does not fit the context' }] })
  return true
}

test('a text of more bytes than context tokens × the longest token is refused, naming both limits', () => {
  const budget = new PromptBudget(2048, 13)
  budget.checkBytes(2048 * 13, 'the prompt', 'prompt')
  assert.throws(
    () => budget.checkBytes(2048 * 13 + 1, 'the prompt', 'prompt'),
    refused(
      /^the prompt is 26625 bytes and cannot fit this worker's context of 2048 tokens \(a token of this model stands for at most 13 bytes, so at most 26624 bytes fit\)$/,
      'prompt',
    ),
  )
})

test('a text of as many tokens as the context is refused: the answer needs one at least', () => {
  const budget = new PromptBudget(2048, 13)
  budget.checkTokens(2047, 'the prompt', 'prompt')
  assert.throws(
    () => budget.checkTokens(2048, 'the prompt', 'prompt'),
    refused(
      /^the prompt is 2048 tokens or more and cannot fit this worker's context of 2048 tokens$/,
      'prompt',
    ),
  )
})

test('with a vocabulary that can drop input (no byte bound), only the token count refuses', () => {
  const budget = new PromptBudget(512, undefined)
  budget.checkBytes(8 * 1024 * 1024, 'the input', 'input')
  const limit = { tokens: 510, name: 'the 510 tokens an embedding input may have here' }
  assert.throws(
    () => budget.checkTokens(510, 'input[3]', 'input.3', limit),
    refused(
      /^input\[3\] is 510 tokens or more and cannot fit the 510 tokens an embedding input may have here$/,
      'input.3',
    ),
  )
})
