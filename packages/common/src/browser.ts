// The part of @rbee/common that runs in a browser as well (no `node:` imports): the web
// dashboard reads the queen's SSE streams with the same reader as the CLI.
export { RbeeError } from './errors.js'
export { MAX_SSE_EVENT_CHARS, readSse, type SseMessage } from './sse/sse-reader.js'
