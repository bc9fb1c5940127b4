/**
 * The databases the reliability suite drives, each seen twice: through an `SqlClient` layer owned by a
 * dedicated login (so its connections can be counted and killed without touching anyone else's), and
 * through a plain admin connection that checks what was really stored with raw SQL.
 */
import { MysqlClient } from "@effect/sql-mysql2"
import { PgClient } from "@effect/sql-pg"
import { SqliteClient } from "@effect/sql-sqlite-node"
import type { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import Sqlite from "better-sqlite3"
import { Duration, Layer, Redacted } from "effect"
import type { ConfigError } from "effect/ConfigError"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Mysql from "mysql2/promise"
import Pg from "pg"
import { mysqlUrl, postgresUrl, type DialectName } from "../../test/support/databases.js"

export type Row = Record<string, unknown>

/** Raw SQL with `?` placeholders, run outside the library. */
export interface Admin {
  readonly query: (sql: string, params?: ReadonlyArray<unknown>) => Promise<Array<Row>>
  readonly close: () => Promise<void>
}

export interface Target {
  readonly dialect: DialectName
  readonly label: string
  /** The login every pool of this target uses (pg/mysql), or the file (sqlite). */
  readonly login: string
  /** A URL for the Promise API, connecting as `login`. */
  readonly url: string
  readonly poolSize: number
  /** A fresh client layer: each build opens its own pool as `login`. */
  readonly clientLayer: (options?: { readonly poolSize?: number; readonly connectTimeoutMs?: number }) => Layer.Layer<
    SqlClient.SqlClient,
    SqlError | ConfigError
  >
  readonly admin: Admin
  /** Quote an identifier for raw SQL on this dialect. */
  readonly ident: (name: string) => string
  /** Open server connections of `login` (0 for sqlite). */
  readonly connections: () => Promise<number>
  /** Terminates every server connection of `login`; returns how many. */
  readonly killConnections: () => Promise<number>
  readonly dispose: () => Promise<void>
}

const randomSuffix = () => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`

const pgAdmin = (): Admin => {
  const pool = new Pg.Pool({ connectionString: postgresUrl, max: 2, application_name: "reliability-admin" })
  pool.on("error", () => undefined)
  return {
    query: async (sql, params = []) => {
      let n = 0
      const text = sql.replace(/\?/g, () => `$${++n}`)
      const result = await pool.query(text, params as Array<unknown>)
      return result.rows
    },
    close: () => pool.end()
  }
}

const mysqlAdmin = (): Admin => {
  const pool = Mysql.createPool({ uri: mysqlUrl, connectionLimit: 2, supportBigNumbers: true })
  pool.on("connection", () => undefined)
  return {
    query: async (sql, params = []) => {
      const [rows] = await pool.query(sql, params as Array<unknown>)
      return Array.isArray(rows) ? (rows as Array<Row>) : []
    },
    close: () => pool.end()
  }
}

const sqliteAdmin = (filename: string): Admin => {
  const db = new Sqlite(filename)
  db.pragma("journal_mode = WAL")
  db.pragma("busy_timeout = 10000")
  return {
    query: async (sql, params = []) => {
      const statement = db.prepare(sql)
      if (statement.reader) return statement.all(...(params as Array<unknown>)) as Array<Row>
      statement.run(...(params as Array<unknown>))
      return []
    },
    close: async () => {
      db.close()
    }
  }
}

const withLogin = (url: string, login: string): string => {
  const parsed = new URL(url)
  parsed.username = login
  parsed.password = ""
  return parsed.toString()
}

export const makePostgres = async (poolSize = 16): Promise<Target> => {
  const admin = pgAdmin()
  const login = `rel_${randomSuffix()}`
  await admin.query(`CREATE ROLE ${login} LOGIN`)
  await admin.query(`GRANT ALL ON SCHEMA public TO ${login}`)
  const url = withLogin(postgresUrl, login)
  const count = async () =>
    Number((await admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = ?", [login]))[0]!.n)
  const kill = async () =>
    (await admin.query(
      "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE usename = ? AND pid <> pg_backend_pid()",
      [login]
    )).length
  return {
    dialect: "pg",
    label: "PostgreSQL",
    login,
    url,
    poolSize,
    clientLayer: (options) =>
      PgClient.layer({
        url: Redacted.make(url),
        maxConnections: options?.poolSize ?? poolSize,
        connectTimeout: Duration.millis(options?.connectTimeoutMs ?? 5000),
        applicationName: "reliability"
      }),
    admin,
    ident: (name) => `"${name.replace(/"/g, "\"\"")}"`,
    connections: count,
    killConnections: kill,
    dispose: async () => {
      await kill().catch(() => 0)
      await admin.query(`DROP OWNED BY ${login}`).catch(() => undefined)
      await admin.query(`DROP ROLE IF EXISTS ${login}`).catch(() => undefined)
      await admin.close()
    }
  }
}

export const makeMysql = async (poolSize = 16): Promise<Target> => {
  const admin = mysqlAdmin()
  const login = `rel_${randomSuffix()}`
  const database = new URL(mysqlUrl).pathname.slice(1) || "test"
  for (const host of ["%", "localhost", "127.0.0.1"]) {
    await admin.query(`CREATE USER '${login}'@'${host}'`)
    await admin.query(`GRANT ALL ON \`${database}\`.* TO '${login}'@'${host}'`)
  }
  const url = withLogin(mysqlUrl, login)
  const parsed = new URL(url)
  const ids = async () =>
    (await admin.query("SELECT ID AS id FROM information_schema.PROCESSLIST WHERE USER = ?", [login])).map((r) =>
      Number(r.id)
    )
  const kill = async () => {
    let killed = 0
    for (const id of await ids()) {
      // A connection may end on its own between the listing and the KILL.
      await admin.query(`KILL CONNECTION ${id}`).then(() => killed++, () => undefined)
    }
    return killed
  }
  return {
    dialect: "mysql",
    label: "MariaDB",
    login,
    url,
    poolSize,
    clientLayer: (options) =>
      MysqlClient.layer({
        host: parsed.hostname,
        port: Number(parsed.port || 3306),
        database,
        username: login,
        maxConnections: options?.poolSize ?? poolSize,
        poolConfig: { connectTimeout: options?.connectTimeoutMs ?? 5000 }
      }),
    admin,
    ident: (name) => `\`${name.replace(/`/g, "``")}\``,
    connections: async () => (await ids()).length,
    killConnections: kill,
    dispose: async () => {
      await kill().catch(() => 0)
      for (const host of ["%", "localhost", "127.0.0.1"]) {
        await admin.query(`DROP USER IF EXISTS '${login}'@'${host}'`).catch(() => undefined)
      }
      await admin.close()
    }
  }
}

export const makeSqlite = async (): Promise<Target> => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "reliability-"))
  const filename = Path.join(dir, "store.db")
  // Create the file in WAL mode first so the admin connection and the client share it.
  const admin = sqliteAdmin(filename)
  return {
    dialect: "sqlite",
    label: "SQLite",
    login: filename,
    url: `sqlite:${filename}`,
    poolSize: 1,
    clientLayer: () => SqliteClient.layer({ filename }),
    admin,
    ident: (name) => `"${name.replace(/"/g, "\"\"")}"`,
    connections: async () => 0,
    killConnections: async () => 0,
    dispose: async () => {
      await admin.close()
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}

export const makeTarget = (dialect: DialectName, poolSize?: number): Promise<Target> =>
  dialect === "pg" ? makePostgres(poolSize) : dialect === "mysql" ? makeMysql(poolSize) : makeSqlite()

/** Polls until `check` holds or `timeoutMs` passes; returns the last value seen. */
export const waitFor = async <A>(
  read: () => Promise<A>,
  check: (a: A) => boolean,
  timeoutMs: number,
  intervalMs = 100
): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  let last = await read()
  while (!check(last) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, intervalMs))
    last = await read()
  }
  return last
}

/** Rows the library stored for one session, in id order, read with raw SQL. */
export const rawHistory = async (
  target: Target,
  messagesTable: string,
  sessionId: string
): Promise<Array<string>> => {
  const rows = await target.admin.query(
    `SELECT message_data AS d FROM ${target.ident(messagesTable)} WHERE session_id = ? ORDER BY id`,
    [sessionId]
  )
  return rows.map((r) => String(r.d))
}

export const dropTables = async (target: Target, tables: ReadonlyArray<string>): Promise<void> => {
  // Children first: messages reference sessions.
  for (const table of tables) {
    await target.admin.query(`DROP TABLE IF EXISTS ${target.ident(table)}`).catch(() => undefined)
  }
}
