/**
 * Thrown when a file is not a well-formed GGUF file: wrong magic, unsupported version, truncated
 * data, counts or lengths that cannot fit in the file, unknown value or tensor types.
 *
 * It does not extend `@rbee/common`'s base error because this package has no runtime
 * dependencies; servers map it by its stable `code`.
 */
export class GgufFormatError extends Error {
  /** Stable error code. */
  readonly code = 'RBEE_GGUF_INVALID'
  /** The file the error concerns. */
  readonly path: string

  /**
   * @param path - the file that was read
   * @param problem - what is wrong, e.g. `truncated: …`; the message becomes `invalid GGUF file <path>: <problem>`
   */
  constructor(path: string, problem: string, options?: ErrorOptions) {
    super(`invalid GGUF file ${path}: ${problem}`, options)
    this.name = 'GgufFormatError'
    this.path = path
  }
}
