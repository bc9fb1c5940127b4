/**
 * Where the agents tests keep their sessions, and a raw look at what was stored.
 *
 * SQLite gets a file per test file (not `:memory:`), because several tests open a second,
 * independent `SqlSession` on the same database to prove the history is durable.
 */
import Database from "better-sqlite3"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Mysql from "mysql2/promise"
import Pg from "pg"
import { afterAll, afterEach } from "vitest"
import { SqlSession } from "../../../src/index.js"
import { type TestDatabase } from "../../support/databases.js"

export interface AgentsDatabase {
  readonly db: TestDatabase
  /** A URL every `SqlSession` of this test file shares. */
  readonly url: string
  /** Removes the SQLite file, if any. */
  readonly dispose: () => void
}

export const agentsDatabase = (db: TestDatabase): AgentsDatabase => {
  if (db.dialect !== "sqlite") return { db, url: db.url, dispose: () => undefined }
  const dir = mkdtempSync(join(tmpdir(), "agents-sessions-"))
  return {
    db,
    url: `sqlite:${join(dir, "sessions.db")}`,
    dispose: () => rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * For a describe block: the test file's database, and `open(sessionId)` for `SqlSession`s on it
 * that are closed after each test.
 */
export const sessionsOn = (db: TestDatabase) => {
  const database = agentsDatabase(db)
  const opened: Array<SqlSession> = []
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((session) => session.close()))
  })
  afterAll(() => database.dispose())
  const open = (sessionId: string): SqlSession => {
    const session = SqlSession.fromUrl(sessionId, { url: database.url, createTables: true })
    opened.push(session)
    return session
  }
  return { database, open }
}

/** The `message_data` texts stored for a session, oldest first, read with the database's own driver. */
export const storedMessageData = async (database: AgentsDatabase, sessionId: string): Promise<Array<string>> => {
  const table = "agent_messages"
  switch (database.db.dialect) {
    case "sqlite": {
      const connection = new Database(database.url.slice("sqlite:".length), { readonly: true })
      try {
        const rows = connection
          .prepare(`SELECT message_data FROM ${table} WHERE session_id = ? ORDER BY id`)
          .all(sessionId) as Array<{ message_data: string }>
        return rows.map((row) => row.message_data)
      } finally {
        connection.close()
      }
    }
    case "pg": {
      const client = new Pg.Client({ connectionString: database.url })
      await client.connect()
      try {
        const result = await client.query<{ message_data: string }>(
          `SELECT message_data FROM ${table} WHERE session_id = $1 ORDER BY id`,
          [sessionId]
        )
        return result.rows.map((row) => row.message_data)
      } finally {
        await client.end()
      }
    }
    case "mysql": {
      const connection = await Mysql.createConnection({ uri: database.url })
      try {
        const [rows] = await connection.query(
          `SELECT message_data FROM ${table} WHERE session_id = ? ORDER BY id`,
          [sessionId]
        )
        return (rows as Array<{ message_data: string | Buffer }>).map((row) => row.message_data.toString())
      } finally {
        await connection.end()
      }
    }
  }
}

/** The stored items' kinds (`user`, `assistant`, `function_call`, ...), read from the raw rows. */
export const storedKinds = async (database: AgentsDatabase, sessionId: string): Promise<Array<string>> =>
  (await storedMessageData(database, sessionId)).map((text) => {
    const item = JSON.parse(text) as { type?: string; role?: string }
    return item.role ?? item.type ?? "?"
  })
