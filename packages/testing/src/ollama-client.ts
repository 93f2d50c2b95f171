import assert from 'node:assert/strict'

/**
 * The status and message of the error the official `ollama` client throws for a refused request
 * (its `ResponseError`); fails the test when the request succeeds.
 */
export async function ollamaRefusal(p: Promise<unknown>): Promise<{ status: number; message: string }> {
  try {
    await p
  } catch (err) {
    const e = err as { status_code?: number; message: string }
    return { status: e.status_code ?? 0, message: e.message }
  }
  assert.fail('expected the request to be refused')
}

/** The text of a streamed Ollama chat, its lines' `message.content` joined. */
export async function ollamaChatText(
  parts: AsyncIterable<{ message: { content: string } }>,
): Promise<string> {
  let text = ''
  for await (const part of parts) text += part.message.content
  return text
}
