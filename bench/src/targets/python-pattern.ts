/**
 * The Python SDK's `SQLAlchemySession` statement pattern, replayed with the raw
 * driver so only the design is measured, not Python:
 * - append: BEGIN; SELECT session; INSERT session if missing; INSERT items; UPDATE updated_at; COMMIT
 * - get: SELECT ... ORDER BY created_at DESC, id DESC LIMIT n, reversed in memory
 * - pop: BEGIN; SELECT id; SELECT message_data; DELETE; COMMIT
 * - clear: BEGIN; DELETE messages; DELETE session; COMMIT
 * Reads run in SQLAlchemy's implicit transaction: an AsyncSession autobegins on its
 * first statement and the pool rolls the connection back when it is returned.
 */
import { join } from "node:path"
import { loadMysql, loadPg, loadSqlite, type MysqlConnectionLike, POOL_SIZE } from "../drivers.js"
import type { Databases, Store, TargetSpec } from "../types.js"
import { inMysqlTransaction } from "./floor.js"
import {
  createTableStatements,
  dropTableStatements,
  interleave,
  parseRows,
  pgValues,
  qValues,
  tableNames,
  type TableNames
} from "./schema.js"

/** One connection's worth of statements, so pg and mysql2 share the pattern. */
interface Conn {
  query(sql: string, params: ReadonlyArray<unknown>): Promise<Array<Record<string, unknown>>>
}

/** Placeholder style of the dialect: `$n` for pg, `?` elsewhere. */
interface Sql {
  p(n: number): string
  values(count: number): string
}

const PG_SQL: Sql = { p: (n) => `$${n}`, values: pgValues }
const Q_SQL: Sql = { p: () => "?", values: qValues }

const pattern = (t: TableNames, s: Sql, pgStyleValues: boolean) => {
  const itemParams = (sessionId: string, rows: ReadonlyArray<string>) =>
    pgStyleValues ? [sessionId, ...rows] : interleave(sessionId, rows)
  return {
    append: async (conn: Conn, sessionId: string, rows: ReadonlyArray<string>) => {
      const existing = await conn.query(`SELECT session_id FROM ${t.sessions} WHERE session_id = ${s.p(1)}`, [sessionId])
      if (existing.length === 0) {
        await conn.query(`INSERT INTO ${t.sessions} (session_id) VALUES (${s.p(1)})`, [sessionId])
      }
      await conn.query(
        `INSERT INTO ${t.messages} (session_id, message_data) VALUES ${s.values(rows.length)}`,
        itemParams(sessionId, rows)
      )
      await conn.query(
        `UPDATE ${t.sessions} SET updated_at = CURRENT_TIMESTAMP WHERE session_id = ${s.p(1)}`,
        [sessionId]
      )
    },
    latest: async (conn: Conn, sessionId: string, limit: number) =>
      parseRows(
        await conn.query(
          `SELECT message_data FROM ${t.messages} WHERE session_id = ${s.p(1)} ` +
            `ORDER BY created_at DESC, id DESC LIMIT ${s.p(2)}`,
          [sessionId, limit]
        )
      ).reverse(),
    all: async (conn: Conn, sessionId: string) =>
      parseRows(
        await conn.query(
          `SELECT message_data FROM ${t.messages} WHERE session_id = ${s.p(1)} ORDER BY created_at ASC, id ASC`,
          [sessionId]
        )
      ),
    pop: async (conn: Conn, sessionId: string) => {
      const ids = await conn.query(
        `SELECT id FROM ${t.messages} WHERE session_id = ${s.p(1)} ORDER BY created_at DESC, id DESC LIMIT 1`,
        [sessionId]
      )
      const id = ids[0]?.["id"]
      if (id === undefined) return undefined
      const data = await conn.query(`SELECT message_data FROM ${t.messages} WHERE id = ${s.p(1)}`, [id])
      await conn.query(`DELETE FROM ${t.messages} WHERE id = ${s.p(1)}`, [id])
      return parseRows(data)[0]
    },
    clear: async (conn: Conn, sessionId: string) => {
      await conn.query(`DELETE FROM ${t.messages} WHERE session_id = ${s.p(1)}`, [sessionId])
      await conn.query(`DELETE FROM ${t.sessions} WHERE session_id = ${s.p(1)}`, [sessionId])
    }
  }
}

/** Wraps a pattern in "check out a connection, BEGIN, run, COMMIT (or ROLLBACK for reads)". */
const overPool = (
  t: TableNames,
  s: Sql,
  pgStyleValues: boolean,
  withConn: <A>(fn: (conn: Conn) => Promise<A>, end: "COMMIT" | "ROLLBACK") => Promise<A>,
  close: () => Promise<void>
): Store => {
  const p = pattern(t, s, pgStyleValues)
  return {
    append: (sessionId, items) =>
      withConn((c) => p.append(c, sessionId, items.map((item) => JSON.stringify(item))), "COMMIT"),
    latest: (sessionId, limit) => withConn((c) => p.latest(c, sessionId, limit), "ROLLBACK"),
    all: (sessionId) => withConn((c) => p.all(c, sessionId), "ROLLBACK"),
    pop: (sessionId) => withConn((c) => p.pop(c, sessionId), "COMMIT"),
    clear: (sessionId) => withConn((c) => p.clear(c, sessionId), "COMMIT"),
    close
  }
}

const openPg = async (db: Databases): Promise<Store> => {
  const t = tableNames(`${db.tablePrefix}py_`)
  const { Pool } = loadPg()
  const pool = new Pool({ connectionString: db.pgUrl, max: POOL_SIZE })
  for (const ddl of createTableStatements("pg", t, "created_at")) await pool.query(ddl)
  return overPool(t, PG_SQL, true, async (fn, end) => {
    const client = await pool.connect()
    try {
      await client.query("BEGIN")
      const result = await fn({ query: async (text, params) => (await client.query(text, params)).rows })
      await client.query(end)
      return result
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined)
      throw error
    } finally {
      client.release()
    }
  }, async () => {
    for (const ddl of dropTableStatements(t)) await pool.query(ddl)
    await pool.end()
  })
}

const openMysql = async (db: Databases): Promise<Store> => {
  const t = tableNames(`${db.tablePrefix}py_`)
  const pool = loadMysql().createPool({ uri: db.mysqlUrl, connectionLimit: POOL_SIZE })
  for (const ddl of createTableStatements("mysql", t, "created_at")) await pool.query(ddl)
  const connOf = (conn: MysqlConnectionLike): Conn => ({
    query: async (text, params) => {
      const [rows] = await conn.query(text, params)
      return Array.isArray(rows) ? (rows as Array<Record<string, unknown>>) : []
    }
  })
  return overPool(t, Q_SQL, false, (fn, end) => inMysqlTransaction(pool, (conn) => fn(connOf(conn)), end), async () => {
    for (const ddl of dropTableStatements(t)) await pool.query(ddl)
    await pool.end()
  })
}

const openSqlite = async (db: Databases): Promise<Store> => {
  const t = tableNames(`${db.tablePrefix}py_`)
  const Database = loadSqlite()
  const sqlite = new Database(join(db.sqliteDir, "python-pattern.db"))
  sqlite.pragma("journal_mode = WAL")
  for (const ddl of createTableStatements("sqlite", t, "created_at")) sqlite.exec(ddl)
  const statements = new Map<string, ReturnType<typeof sqlite.prepare>>()
  const prepared = (text: string) => {
    let statement = statements.get(text)
    if (statement === undefined) {
      statement = sqlite.prepare(text)
      statements.set(text, statement)
    }
    return statement
  }
  const conn: Conn = {
    query: async (text, params) => {
      const statement = prepared(text)
      if (/^\s*SELECT/i.test(text)) return statement.all(...params)
      statement.run(...params)
      return []
    }
  }
  const begin = prepared("BEGIN")
  const commit = prepared("COMMIT")
  const rollback = prepared("ROLLBACK")
  // One connection, as aiosqlite gives SQLAlchemy: a lock keeps transactions from interleaving.
  let queue: Promise<unknown> = Promise.resolve()
  return overPool(t, Q_SQL, false, (fn, end) => {
    const run = queue.then(async () => {
      begin.run()
      try {
        const result = await fn(conn)
        ;(end === "COMMIT" ? commit : rollback).run()
        return result
      } catch (error) {
        rollback.run()
        throw error
      }
    })
    queue = run.catch(() => undefined)
    return run
  }, async () => {
    for (const ddl of dropTableStatements(t)) sqlite.exec(ddl)
    sqlite.close()
  })
}

const NOTE = "SQLAlchemySession's statements with the raw driver; reads inside the implicit BEGIN ... ROLLBACK"

export const pythonPatternTargets: ReadonlyArray<TargetSpec> = [
  { id: "pg/python", name: "python", label: "Python SQLAlchemySession pattern (pg)", dialect: "pg", category: "python", packages: ["pg"], notes: [NOTE], open: openPg },
  { id: "mysql/python", name: "python", label: "Python SQLAlchemySession pattern (mysql2)", dialect: "mysql", category: "python", packages: ["mysql2"], notes: [NOTE], open: openMysql },
  { id: "sqlite/python", name: "python", label: "Python SQLAlchemySession pattern (better-sqlite3)", dialect: "sqlite", category: "python", packages: ["better-sqlite3"], notes: [NOTE], open: openSqlite }
]
