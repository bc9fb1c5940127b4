/**
 * The floor: the fewest statements a correct store can send, with the raw driver
 * and nothing around it. Append makes sure the session row exists and touches it,
 * then inserts the items; reads order by the auto-increment id.
 */
import { join } from "node:path"
import {
  loadMysql,
  loadPg,
  loadSqlite,
  type MysqlConnectionLike,
  type MysqlPoolLike,
  type PgPoolLike,
  POOL_SIZE,
  type SqliteDatabaseLike
} from "../drivers.js"
import type { Databases, Item, Store, TargetSpec } from "../types.js"
import {
  createTableStatements,
  dropTableStatements,
  interleave,
  parseRows,
  qValues,
  tableNames,
  type TableNames
} from "./schema.js"

/** A floor store with what a variant built on it needs: its tables and its pool or connection. */
export interface FloorParts<Conn> {
  readonly store: Store
  readonly t: TableNames
  readonly conn: Conn
}

/** Tables of a floor variant: its own prefix, or the shared tables. */
const floorTables = (db: Databases, name: string) => tableNames(db.shared ? db.tablePrefix : `${db.tablePrefix}${name}_`)

export const openPgFloor = async (db: Databases, name: string): Promise<FloorParts<PgPoolLike>> => {
  const t = floorTables(db, name)
  const { Pool } = loadPg()
  const pool = new Pool({ connectionString: db.pgUrl, max: POOL_SIZE })
  if (!db.shared) for (const ddl of createTableStatements("pg", t, "id")) await pool.query(ddl)
  // One round trip: the CTE upserts (and so locks) the session row, and the insert reads its output, so the rows go
  // in only once the lock is held and a call's items stay contiguous under concurrent appends to one session. (An
  // insert that does not read the CTE may run before the lock wait: callers interleaved, bench/findings.md.)
  const appendSql = `WITH s AS (INSERT INTO ${t.sessions} (session_id) VALUES ($1) ` +
    `ON CONFLICT (session_id) DO UPDATE SET updated_at = now() RETURNING session_id) ` +
    `INSERT INTO ${t.messages} (session_id, message_data) ` +
    `SELECT s.session_id, v.message_data FROM s, unnest($2::text[]) WITH ORDINALITY AS v(message_data, position) ` +
    `ORDER BY v.position`
  const store: Store = {
    append: async (sessionId, items) => {
      await pool.query(appendSql, [sessionId, items.map((item) => JSON.stringify(item))])
    },
    latest: async (sessionId, limit) => {
      const result = await pool.query(
        `SELECT message_data FROM ${t.messages} WHERE session_id = $1 ORDER BY id DESC LIMIT $2`,
        [sessionId, limit]
      )
      return parseRows(result.rows).reverse()
    },
    all: async (sessionId) => {
      const result = await pool.query(
        `SELECT message_data FROM ${t.messages} WHERE session_id = $1 ORDER BY id`,
        [sessionId]
      )
      return parseRows(result.rows)
    },
    pop: async (sessionId) => {
      const result = await pool.query(
        `DELETE FROM ${t.messages} WHERE id = (SELECT id FROM ${t.messages} WHERE session_id = $1 ` +
          `ORDER BY id DESC LIMIT 1 FOR UPDATE) RETURNING message_data`,
        [sessionId]
      )
      return parseRows(result.rows)[0]
    },
    clear: async (sessionId) => {
      await pool.query(
        `WITH m AS (DELETE FROM ${t.messages} WHERE session_id = $1) DELETE FROM ${t.sessions} WHERE session_id = $1`,
        [sessionId]
      )
    },
    close: async () => {
      if (!db.shared) for (const ddl of dropTableStatements(t)) await pool.query(ddl)
      await pool.end()
    }
  }
  return { store, t, conn: pool }
}

/** Runs `fn` on one connection between START TRANSACTION and `end` (ROLLBACK when it fails). */
export const inMysqlTransaction = async <A>(
  pool: MysqlPoolLike,
  fn: (conn: MysqlConnectionLike) => Promise<A>,
  end: "COMMIT" | "ROLLBACK" = "COMMIT"
): Promise<A> => {
  const conn = await pool.getConnection()
  try {
    await conn.query("START TRANSACTION")
    const result = await fn(conn)
    await conn.query(end)
    return result
  } catch (error) {
    await conn.query("ROLLBACK").catch(() => undefined)
    throw error
  } finally {
    conn.release()
  }
}

export const openMysqlFloor = async (db: Databases, name: string): Promise<FloorParts<MysqlPoolLike>> => {
  const t = floorTables(db, name)
  const pool = loadMysql().createPool({ uri: db.mysqlUrl, connectionLimit: POOL_SIZE })
  if (!db.shared) for (const ddl of createTableStatements("mysql", t, "id")) await pool.query(ddl)
  const [versionRows] = await pool.query("SELECT VERSION() AS v")
  // MariaDB deletes and returns the last row in one statement; MySQL needs a transaction.
  const mariadb = String((versionRows as Array<{ v: string }>)[0]?.v).toLowerCase().includes("mariadb")
  const store: Store = {
    append: (sessionId, items) =>
      inMysqlTransaction(pool, async (conn) => {
        await conn.query(
          `INSERT INTO ${t.sessions} (session_id) VALUES (?) ON DUPLICATE KEY UPDATE updated_at = CURRENT_TIMESTAMP(6)`,
          [sessionId]
        )
        await conn.query(
          `INSERT INTO ${t.messages} (session_id, message_data) VALUES ${qValues(items.length)}`,
          interleave(sessionId, items.map((item) => JSON.stringify(item)))
        )
      }),
    latest: async (sessionId, limit) => {
      const [rows] = await pool.query(
        `SELECT message_data FROM ${t.messages} WHERE session_id = ? ORDER BY id DESC LIMIT ?`,
        [sessionId, limit]
      )
      return parseRows(rows as Array<Record<string, unknown>>).reverse()
    },
    all: async (sessionId) => {
      const [rows] = await pool.query(
        `SELECT message_data FROM ${t.messages} WHERE session_id = ? ORDER BY id`,
        [sessionId]
      )
      return parseRows(rows as Array<Record<string, unknown>>)
    },
    pop: mariadb
      ? async (sessionId) => {
        const [rows] = await pool.query(
          `DELETE FROM ${t.messages} WHERE session_id = ? ORDER BY id DESC LIMIT 1 RETURNING message_data`,
          [sessionId]
        )
        return parseRows(rows as Array<Record<string, unknown>>)[0]
      }
      : (sessionId) =>
        inMysqlTransaction(pool, async (conn) => {
          const [rows] = await conn.query(
            `SELECT id, message_data FROM ${t.messages} WHERE session_id = ? ORDER BY id DESC LIMIT 1 FOR UPDATE`,
            [sessionId]
          )
          const row = (rows as Array<Record<string, unknown>>)[0]
          if (row !== undefined) await conn.query(`DELETE FROM ${t.messages} WHERE id = ?`, [row["id"]])
          return row === undefined ? undefined : parseRows([row])[0]
        }),
    clear: async (sessionId) => {
      // The foreign key cascades to the messages: one statement.
      await pool.query(`DELETE FROM ${t.sessions} WHERE session_id = ?`, [sessionId])
    },
    close: async () => {
      if (!db.shared) for (const ddl of dropTableStatements(t)) await pool.query(ddl)
      await pool.end()
    }
  }
  return { store, t, conn: pool }
}

export const openSqliteFloor = async (db: Databases, name: string): Promise<FloorParts<SqliteDatabaseLike>> => {
  const t = floorTables(db, name)
  const Database = loadSqlite()
  const sqlite = new Database(join(db.sqliteDir, db.shared ? "shared.db" : `${name}.db`))
  // The same settings as @effect/sql-sqlite-node's client: WAL, foreign keys left off.
  sqlite.pragma("journal_mode = WAL")
  if (!db.shared) for (const ddl of createTableStatements("sqlite", t, "id")) sqlite.exec(ddl)
  const upsert = sqlite.prepare(
    `INSERT INTO ${t.sessions} (session_id) VALUES (?) ON CONFLICT (session_id) DO UPDATE SET updated_at = CURRENT_TIMESTAMP`
  )
  const inserts = new Map<number, ReturnType<typeof sqlite.prepare>>()
  const insertFor = (count: number) => {
    let statement = inserts.get(count)
    if (statement === undefined) {
      statement = sqlite.prepare(`INSERT INTO ${t.messages} (session_id, message_data) VALUES ${qValues(count)}`)
      inserts.set(count, statement)
    }
    return statement
  }
  const appendTx = sqlite.transaction((sessionId: string, rows: ReadonlyArray<string>) => {
    upsert.run(sessionId)
    insertFor(rows.length).run(...interleave(sessionId, rows))
  })
  const latest = sqlite.prepare(`SELECT message_data FROM ${t.messages} WHERE session_id = ? ORDER BY id DESC LIMIT ?`)
  const all = sqlite.prepare(`SELECT message_data FROM ${t.messages} WHERE session_id = ? ORDER BY id`)
  const pop = sqlite.prepare(
    `DELETE FROM ${t.messages} WHERE id = (SELECT id FROM ${t.messages} WHERE session_id = ? ORDER BY id DESC LIMIT 1) RETURNING message_data`
  )
  const clearMessages = sqlite.prepare(`DELETE FROM ${t.messages} WHERE session_id = ?`)
  const clearSession = sqlite.prepare(`DELETE FROM ${t.sessions} WHERE session_id = ?`)
  const clearTx = sqlite.transaction((sessionId: string) => {
    clearMessages.run(sessionId)
    clearSession.run(sessionId)
  })
  const store: Store = {
    append: async (sessionId, items: ReadonlyArray<Item>) => {
      appendTx(sessionId, items.map((item) => JSON.stringify(item)))
    },
    latest: async (sessionId, limit) => parseRows(latest.all(sessionId, limit)).reverse(),
    all: async (sessionId) => parseRows(all.all(sessionId)),
    pop: async (sessionId) => parseRows(pop.all(sessionId))[0],
    clear: async (sessionId) => {
      clearTx(sessionId)
    },
    close: async () => {
      if (!db.shared) for (const ddl of dropTableStatements(t)) sqlite.exec(ddl)
      sqlite.close()
    }
  }
  return { store, t, conn: sqlite }
}

export const floorTargets: ReadonlyArray<TargetSpec> = [
  {
    id: "pg/floor",
    name: "floor",
    label: "raw pg (floor)",
    dialect: "pg",
    category: "floor",
    packages: ["pg"],
    notes: ["append: one statement (a CTE upserts the session; the insert reads it, so it waits for the lock); pop: DELETE ... RETURNING"],
    open: async (db) => (await openPgFloor(db, "floor")).store
  },
  {
    id: "mysql/floor",
    name: "floor",
    label: "raw mysql2 (floor)",
    dialect: "mysql",
    category: "floor",
    packages: ["mysql2"],
    notes: [
      "append: transaction of upsert session + multi-row insert; pop: DELETE ... ORDER BY id DESC LIMIT 1 RETURNING on MariaDB"
    ],
    open: async (db) => (await openMysqlFloor(db, "floor")).store
  },
  {
    id: "sqlite/floor",
    name: "floor",
    label: "raw better-sqlite3 (floor)",
    dialect: "sqlite",
    category: "floor",
    packages: ["better-sqlite3"],
    notes: ["prepared statements, WAL, one connection"],
    open: async (db) => (await openSqliteFloor(db, "floor")).store
  }
]
