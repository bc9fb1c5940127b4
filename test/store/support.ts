/** Raw-SQL probes used by the behaviour suite to check what was really stored. */
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Metric } from "effect"
import { SessionMetrics, SqlSessionStore } from "../../src/index.js"
import { type TestDatabase, uniqueTable } from "../support/databases.js"

export const countMessages = (sessionId: string, table = "agent_messages") =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ n: number | string }>`SELECT COUNT(*) AS n FROM ${sql(table)} WHERE session_id = ${sessionId}`.pipe(
      Effect.map((rows) => Number(rows[0]!.n))
    ))

export const countSessions = (sessionId: string, table = "agent_sessions") =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ n: number | string }>`SELECT COUNT(*) AS n FROM ${sql(table)} WHERE session_id = ${sessionId}`.pipe(
      Effect.map((rows) => Number(rows[0]!.n))
    ))

export const insertRaw = (sessionId: string, messageData: string, table = "agent_messages", sessions = "agent_sessions") =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql.onDialectOrElse({
      pg: () => sql`INSERT INTO ${sql(sessions)} (session_id) VALUES (${sessionId}) ON CONFLICT DO NOTHING`,
      mysql: () => sql`INSERT IGNORE INTO ${sql(sessions)} (session_id) VALUES (${sessionId})`,
      orElse: () => sql`INSERT OR IGNORE INTO ${sql(sessions)} (session_id) VALUES (${sessionId})`
    }).pipe(
      Effect.zipRight(sql`INSERT INTO ${sql(table)} (session_id, message_data) VALUES (${sessionId}, ${messageData})`)
    ))

export const storedTexts = (sessionId: string, table = "agent_messages") =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ message_data: string }>`SELECT message_data FROM ${sql(table)} WHERE session_id = ${sessionId} ORDER BY id`.pipe(
      Effect.map((rows) => rows.map((row) => row.message_data))
    ))

export const sessionTimes = (sessionId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ created_at: unknown; updated_at: unknown }>`SELECT created_at, updated_at FROM agent_sessions
      WHERE session_id = ${sessionId}`.pipe(
      Effect.map((rows) => ({
        createdAt: toMillis(rows[0]!.created_at),
        updatedAt: toMillis(rows[0]!.updated_at)
      }))
    ))

const toMillis = (value: unknown): number =>
  value instanceof Date ? value.getTime() : Date.parse(`${String(value).replace(" ", "T")}Z`)

/** Fresh tables of the current shape under unique names, for tests that look at plans or DDL. */
export const scratchTables = (prefix: string) =>
  Effect.gen(function*() {
    const names = {
      sessions: uniqueTable(`${prefix}_sessions`),
      messages: uniqueTable(`${prefix}_messages`),
      operations: uniqueTable(`${prefix}_ops`)
    }
    yield* SqlSessionStore.make({
      createTables: true,
      sessionsTable: names.sessions,
      messagesTable: names.messages,
      operationsTable: names.operations
    })
    return names
  })

/**
 * The store on tables of its own (`<prefix>_s`, `_m`, `_o`, under unique names) over `db`, with the
 * `SqlClient`; the tables are dropped when the layer closes.
 */
export const storeOnOwnTables = (db: TestDatabase, prefix: string) => {
  const tables = {
    sessionsTable: uniqueTable(`${prefix}_s`),
    messagesTable: uniqueTable(`${prefix}_m`),
    operationsTable: uniqueTable(`${prefix}_o`)
  }
  const dropTables = Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.forEach(
      [tables.operationsTable, tables.messagesTable, tables.sessionsTable],
      (table) => sql`DROP TABLE IF EXISTS ${sql(table)}`,
      { discard: true }
    )).pipe(Effect.orDie)
  const layer = SqlSessionStore.layer({ createTables: true, ...tables }).pipe(
    Layer.provideMerge(Layer.scopedDiscard(Effect.addFinalizer(() => dropTables)).pipe(Layer.provideMerge(db.layer)))
  )
  return { tables, layer }
}

export type BatchedOperation = "addItems" | "getItems" | "popItem" | "clearSession"

/** Statements run and requests they carried so far, by operation, from the batch-size histogram. */
export const batchStats = (operation: BatchedOperation) =>
  Metric.value(Metric.tagged(SessionMetrics.batchSize, "operation", operation)).pipe(
    Effect.map((state) => ({ statements: state.count, requests: state.sum }))
  )

/** Runs `effect` and returns how many statements it ran and how many requests they carried. */
export const measured = <A, E, R>(
  operation: BatchedOperation,
  effect: Effect.Effect<A, E, R>
) =>
  Effect.gen(function*() {
    const before = yield* batchStats(operation)
    const result = yield* effect
    const after = yield* batchStats(operation)
    return {
      result,
      statements: after.statements - before.statements,
      requests: after.requests - before.requests
    }
  })
