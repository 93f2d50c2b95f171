import assert from 'node:assert/strict'
import { test } from 'node:test'
import { z } from 'zod'
import { ChatCompletionRequestSchema } from './openai.js'
import { OperationSchema } from './operation.js'
import { describeIssues, fieldIssues } from './validation.js'

function errorOf(schema: z.ZodType, value: unknown): z.ZodError {
  const r = schema.safeParse(value)
  assert.equal(r.success, false)
  return r.error!
}

test('fieldIssues names nested fields with dotted paths, array indices included', () => {
  const err = errorOf(ChatCompletionRequestSchema, {
    model: 'tiny',
    temperature: 3,
    messages: [
      { role: 'user', content: 'x' },
      { role: 'robot', content: 'x' },
    ],
  })
  assert.deepEqual(
    fieldIssues(err).map((i) => i.path),
    ['temperature', 'messages.1.role'],
  )
})

test('fieldIssues names the root (body) when the whole input is wrong', () => {
  assert.deepEqual(
    fieldIssues(errorOf(OperationSchema, 'status')).map((i) => i.path),
    ['(body)'],
  )
})

test('fieldIssues reports each unknown field of a strict object under its own path', () => {
  const err = errorOf(OperationSchema, { operation: 'worker_list', hive: 'gpu-box', verbose: true })
  assert.deepEqual(fieldIssues(err), [
    { path: 'hive', message: 'Unrecognized key' },
    { path: 'verbose', message: 'Unrecognized key' },
  ])
  const nested = errorOf(z.object({ options: z.object({ a: z.int() }).strict() }), {
    options: { a: 1, b: 2 },
  })
  assert.deepEqual(fieldIssues(nested), [{ path: 'options.b', message: 'Unrecognized key' }])
})

test('describeIssues joins every issue as path: message on one line', () => {
  const err = errorOf(ChatCompletionRequestSchema, { model: '', messages: [], temperature: 3 })
  const line = describeIssues(err)
  assert.doesNotMatch(line, /\n/)
  const parts = line.split('; ').sort()
  assert.equal(parts.length, 3)
  assert.match(parts[0]!, /^messages: /)
  assert.match(parts[1]!, /^model: /)
  assert.match(parts[2]!, /^temperature: .*<=2/)
})
