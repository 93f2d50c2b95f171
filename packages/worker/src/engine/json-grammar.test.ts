import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { GrammarJsonSchema } from '@rbee/contracts'
import { RBEE_FORMAT_KEY, toGbnfSchema } from './json-grammar.js'

test('only schema keywords are renamed for node-llama-cpp, never the names a client gave its properties', () => {
  const schema = {
    type: 'object',
    properties: {
      anyOf: { type: 'string', format: 'uri' },
      format: { anyOf: [{ type: 'string' }, { type: 'null' }] },
      enum: { enum: ['anyOf', 'format'] },
    },
    required: ['anyOf', 'format', 'enum'],
    $defs: { anyOf: { type: 'integer' } },
  } as unknown as GrammarJsonSchema
  assert.deepEqual(toGbnfSchema(schema), {
    type: 'object',
    properties: {
      anyOf: { type: 'string', [RBEE_FORMAT_KEY]: 'uri' },
      format: { oneOf: [{ type: 'string' }, { type: 'null' }] },
      enum: { enum: ['anyOf', 'format'] },
    },
    required: ['anyOf', 'format', 'enum'],
    $defs: { anyOf: { type: 'integer' } },
  })
})
