/**
 * Thrown when a file is not a well-formed GGUF file: not a regular file, wrong magic, unsupported
 * version, truncated data, counts or lengths that cannot fit in the file or go past a limit,
 * unknown value or tensor types. The message never quotes the file's bytes.
 *
 * It does not extend `@rbee/common`'s base error because this package has no runtime
 * dependencies; servers map it by its stable `code`.
 */
export class GgufFormatError extends Error {
  /** Stable error code. */
  readonly code = 'RBEE_GGUF_INVALID'
  /** The file the error concerns. */
  readonly path: string
  /** What is wrong, without the path (the message is `invalid GGUF file <path>: <problem>`). */
  readonly problem: string

  /**
   * @param path - the file that was read
   * @param problem - what is wrong, e.g. `truncated: …`; the message becomes `invalid GGUF file <path>: <problem>`
   */
  constructor(path: string, problem: string, options?: ErrorOptions) {
    super(`invalid GGUF file ${path}: ${problem}`, options)
    this.name = 'GgufFormatError'
    this.path = path
    this.problem = problem
  }
}
