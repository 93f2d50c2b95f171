import { refusedField } from '@rbee/common'

/** The same vector at unit length. */
export function normalized(v: number[]): number[] {
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0))
  return norm > 0 ? v.map((x) => x / norm) : v
}

/**
 * Vectors cut to their first `dims` dimensions and put back at unit length (what OpenAI's and
 * Ollama's `dimensions` do); unchanged without `dims`.
 * @throws RbeeError `RBEE_VALIDATION` naming `field` when the model's vectors are narrower.
 */
export function withDimensions(
  vectors: number[][],
  dims: number | undefined,
  field = 'dimensions',
): number[][] {
  if (dims === undefined) return vectors
  const width = vectors[0]?.length ?? 0
  if (vectors.length > 0 && dims > width)
    throw refusedField(field, `this model's vectors have ${width} dimensions`)
  return vectors.map((v) => normalized(v.slice(0, dims)))
}
