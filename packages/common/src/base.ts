// The part of @rbee/common a client needs (errors, lifecycle, formatting, SSE reading, flags),
// without the HTTP server, jobs runtime and logger: importing `@rbee/common/base` does not load
// fastify or pino, which saves every CLI command their start-up time.
export * from './auth.js'
export * from './config-flags.js'
export * from './deadline.js'
export * from './error-disclosure.js'
export * from './errors.js'
export * from './format.js'
export * from './json-limits.js'
export * from './lifecycle.js'
export * from './net.js'
export * from './request-deadline.js'
export * from './secret-file.js'
export * from './sse/sse-reader.js'
export * from './with-defaults.js'
