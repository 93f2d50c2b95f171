export * from './managed-process.js'
export * from './models.js'
export * from './worker-process.js'
