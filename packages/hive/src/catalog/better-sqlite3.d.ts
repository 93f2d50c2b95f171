// Minimal typings for the parts of better-sqlite3 12 the catalog uses (the package ships none and
// @types/better-sqlite3 is not installed). Kept private to the catalog: no exported declaration of
// this package mentions these types, so dependents never need them.
declare module 'better-sqlite3' {
  namespace Database {
    interface RunResult {
      changes: number
      lastInsertRowid: number | bigint
    }
    interface Statement {
      run(...params: unknown[]): RunResult
      get(...params: unknown[]): unknown
      all(...params: unknown[]): unknown[]
    }
    interface Options {
      readonly?: boolean
      fileMustExist?: boolean
      timeout?: number
    }
    interface Connection {
      readonly open: boolean
      prepare(sql: string): Statement
      exec(sql: string): Connection
      pragma(source: string, options?: { simple?: boolean }): unknown
      transaction<F extends (...args: never[]) => unknown>(fn: F): F
      close(): Connection
    }
  }
  const Database: new (filename: string, options?: Database.Options) => Database.Connection
  export = Database
}
