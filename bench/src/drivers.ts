/**
 * The raw drivers, loaded from the repository root so the floor runs on the very
 * same driver build that `@effect/sql-pg`, `@effect/sql-mysql2` and
 * `@effect/sql-sqlite-node` use. Typed here with the few members we call, so the
 * harness type-checks without `@types/pg` and friends.
 */
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"

const rootRequire = createRequire(new URL("../../package.json", import.meta.url))

export interface PgQueryResult {
  readonly rows: Array<Record<string, unknown>>
  readonly rowCount: number | null
}
export interface PgClientLike {
  query(text: string, values?: ReadonlyArray<unknown>): Promise<PgQueryResult>
  release(): void
}
export interface PgPoolLike {
  query(text: string, values?: ReadonlyArray<unknown>): Promise<PgQueryResult>
  connect(): Promise<PgClientLike>
  end(): Promise<void>
}
interface PgModule {
  Pool: new (config: { connectionString: string; max?: number }) => PgPoolLike
}

export interface MysqlConnectionLike {
  query(sql: string, values?: ReadonlyArray<unknown>): Promise<[unknown, unknown]>
  release(): void
}
export interface MysqlPoolLike {
  query(sql: string, values?: ReadonlyArray<unknown>): Promise<[unknown, unknown]>
  getConnection(): Promise<MysqlConnectionLike>
  end(): Promise<void>
}
interface MysqlModule {
  createPool(config: { uri: string; connectionLimit?: number; multipleStatements?: boolean }): MysqlPoolLike
}

export interface SqliteStatementLike {
  run(...params: ReadonlyArray<unknown>): unknown
  all(...params: ReadonlyArray<unknown>): Array<Record<string, unknown>>
  get(...params: ReadonlyArray<unknown>): Record<string, unknown> | undefined
}
export interface SqliteDatabaseLike {
  prepare(sql: string): SqliteStatementLike
  exec(sql: string): void
  pragma(sql: string): unknown
  transaction<A extends ReadonlyArray<unknown>, R>(fn: (...args: A) => R): (...args: A) => R
  close(): void
}
type SqliteConstructor = new (filename: string) => SqliteDatabaseLike

export const loadPg = (): PgModule => rootRequire("pg") as PgModule
export const loadMysql = (): MysqlModule => rootRequire("mysql2/promise") as MysqlModule
export const loadSqlite = (): SqliteConstructor => rootRequire("better-sqlite3") as SqliteConstructor

/** Version of a package as installed at the repository root (or undefined). */
export const rootPackageVersion = (name: string): string | undefined =>
  packageVersionIn(new URL("../../", import.meta.url), name)

/** Version of a package installed in the `node_modules` of `dir` (read from disk: some packages export no package.json). */
export const packageVersionIn = (dir: URL, name: string): string | undefined => {
  try {
    const text = readFileSync(new URL(`node_modules/${name}/package.json`, dir), "utf8")
    return (JSON.parse(text) as { version: string }).version
  } catch {
    return undefined
  }
}

/** Pool size for every pooled client: the default of `pg` and `mysql2`, which our store keeps too. */
export const POOL_SIZE = 10
