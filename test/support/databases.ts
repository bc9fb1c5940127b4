/**
 * The databases the test suites run against, and whether they can be reached.
 *
 * Outside CI a server that cannot be reached is a loud skip; with `CI=true` it is a failure,
 * because CI machines always have PostgreSQL and MariaDB.
 */
import { MysqlClient } from "@effect/sql-mysql2"
import { PgClient } from "@effect/sql-pg"
import { SqliteClient } from "@effect/sql-sqlite-node"
import type { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import type { ConfigError } from "effect/ConfigError"
import { Duration, Layer, Redacted } from "effect"
import * as Mysql from "mysql2/promise"
import Pg from "pg"
import { redactUrl } from "../../src/internal/url.js"

export const postgresUrl = process.env.TEST_POSTGRES_URL ?? "postgres://root@127.0.0.1:5432/test"
export const mysqlUrl = process.env.TEST_MYSQL_URL ?? "mysql://root@127.0.0.1:3306/test"
export const isCI = process.env.CI === "true" || process.env.CI === "1"

export type DialectName = "sqlite" | "pg" | "mysql"

export interface TestDatabase {
  readonly dialect: DialectName
  readonly label: string
  /** A fresh `SqlClient` layer; every `Layer.build` opens a new pool. */
  readonly layer: Layer.Layer<SqlClient.SqlClient, SqlError | ConfigError>
  /** Why the database cannot be used here, or undefined when it can. */
  readonly unavailable: string | undefined
  readonly url: string
}

const probePostgres = async (): Promise<string | undefined> => {
  const client = new Pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 3000 })
  try {
    await client.connect()
    await client.query("SELECT 1")
    return undefined
  } catch (error) {
    return String((error as Error).message ?? error)
  } finally {
    await client.end().catch(() => undefined)
  }
}

const probeMysql = async (): Promise<string | undefined> => {
  try {
    const connection = await Mysql.createConnection({ uri: mysqlUrl, connectTimeout: 3000 })
    await connection.query("SELECT 1")
    await connection.end()
    return undefined
  } catch (error) {
    return String((error as Error).message ?? error)
  }
}

const report = (label: string, url: string, reason: string | undefined): string | undefined => {
  if (reason === undefined) return undefined
  const message = `${label} at ${redactUrl(url)} is unreachable (${reason})`
  if (isCI) {
    throw new Error(`${message}. CI=true requires every database; start it and run again.`)
  }
  console.warn(`\n*** SKIPPING ${label} tests: ${message}. Set CI=true to make this a failure. ***\n`)
  return message
}

const [pgReason, mysqlReason] = await Promise.all([probePostgres(), probeMysql()])

export const sqlite: TestDatabase = {
  dialect: "sqlite",
  label: "SQLite",
  layer: SqliteClient.layer({ filename: ":memory:" }),
  unavailable: undefined,
  url: "sqlite::memory:"
}

export const postgres: TestDatabase = {
  dialect: "pg",
  label: "PostgreSQL",
  layer: PgClient.layer({
    url: Redacted.make(postgresUrl),
    maxConnections: 8,
    connectTimeout: Duration.seconds(5)
  }),
  unavailable: report("PostgreSQL", postgresUrl, pgReason),
  url: postgresUrl
}

export const mysql: TestDatabase = {
  dialect: "mysql",
  label: "MariaDB/MySQL",
  layer: MysqlClient.layer({
    url: Redacted.make(mysqlUrl),
    maxConnections: 8
  }),
  unavailable: report("MariaDB/MySQL", mysqlUrl, mysqlReason),
  url: mysqlUrl
}

export const all: ReadonlyArray<TestDatabase> = [sqlite, postgres, mysql]

/** A session id no other test (or earlier run) uses. */
export const uniqueId = (prefix = "s"): string =>
  `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`

/** A table name no other test uses: identifiers must match ^[A-Za-z_][A-Za-z0-9_]*$. */
export const uniqueTable = (prefix: string): string =>
  `${prefix}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`
