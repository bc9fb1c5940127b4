/**
 * The combined statements of natural batching (see `batcher.ts`): many sessions' appends in one
 * statement on PostgreSQL and in one short transaction elsewhere; many sessions' newest-N reads
 * in one statement on PostgreSQL; many sessions' pops in one statement on PostgreSQL and SQLite;
 * many sessions' clears in one short transaction on SQLite.
 */
import type { SqlClient, Statement } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"
import type { MessageRow, TableNames } from "./statements.js"
import { objectTextCondition, transactionOf } from "./statements.js"

export interface AppendRequest {
  readonly sessionId: string
  readonly messages: ReadonlyArray<string>
}

export interface ClearRequest {
  readonly sessionId: string
  /** Whether the store has the history-operations table, whose rows of the session go too. */
  readonly withOperations: boolean
}

export interface NewestRequest {
  readonly sessionId: string
  readonly limit: number
}

export interface BatchStatements {
  /** Appends every request's rows atomically, each request's rows contiguous and in order. */
  readonly appendMany: (requests: ReadonlyArray<AppendRequest>) => Effect.Effect<void, SqlError>
  /** Combined newest-N reads, where they pay (PostgreSQL only: see docs/batching.md). */
  readonly newest: CombinedReads | undefined
  /** Combined pops, where they pay (PostgreSQL and SQLite: see docs/batching.md). */
  readonly pop: CombinedPops | undefined
  /** Combined clears, where they pay and keep the lock order (SQLite only: see docs/batching.md). */
  readonly clear: CombinedClears | undefined
}

export interface CombinedClears {
  /** Clears of distinct sessions, atomically: per session, in order, how many items it held. */
  readonly clearMany: (
    sessionIds: ReadonlyArray<string>,
    withOperations: boolean
  ) => Effect.Effect<ReadonlyArray<number>, SqlError>
}

export interface CombinedPops {
  /**
   * Pops of distinct sessions in one statement: per session, the popped row's data (or `null`)
   * and whether the statement's snapshot still saw rows (see `deleteNewest`).
   */
  readonly deleteNewestMany: (sessionIds: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<PopResult>, SqlError>
  /** The statement behind `deleteNewestMany`, for sessions already sorted, to explain. */
  readonly popManyStatement: (sortedSessionIds: ReadonlyArray<string>) => Statement.Statement<PoppedRow>
}

/** A row of a combined pop; SQLite's returns only the sessions it popped, and no `remaining`. */
type PoppedRow = { readonly session_id: string; readonly message_data: string | null; readonly remaining?: boolean }

export interface PopResult {
  readonly message_data: string | null
  readonly remaining: boolean
}

export interface CombinedReads {
  /** Each request's newest `limit` rows, newest first. */
  readonly selectNewestMany: (
    requests: ReadonlyArray<NewestRequest>
  ) => Effect.Effect<ReadonlyArray<ReadonlyArray<MessageRow>>, SqlError>
  /** The statement behind `selectNewestMany` (rows tagged with their request's position), to explain. */
  readonly newestManyStatement: (requests: ReadonlyArray<NewestRequest>) => Statement.Statement<PositionedRow>
}

type PositionedRow = MessageRow & { readonly position: number | string }

/** Session ids in a fixed order, each once: every combined statement locks sessions in this order. */
const sortedSessions = (requests: ReadonlyArray<{ readonly sessionId: string }>): Array<string> =>
  Array.from(new Set(requests.map((request) => request.sessionId))).sort()

/** Newest first; ids are numbers, or decimal strings (PostgreSQL BIGINT). */
const newestFirst = (a: MessageRow, b: MessageRow): number => {
  if (typeof a.id === "number" && typeof b.id === "number") return b.id - a.id
  const left = String(a.id)
  const right = String(b.id)
  return left.length !== right.length ? right.length - left.length : left < right ? 1 : left > right ? -1 : 0
}

/** Rows tagged with their request's position, grouped back per request, newest first. */
const groupRows = (
  count: number,
  rows: ReadonlyArray<PositionedRow>
): Array<Array<MessageRow>> => {
  const groups: Array<Array<MessageRow>> = Array.from({ length: count }, () => [])
  for (const row of rows) groups[Number(row.position)]!.push({ id: row.id, message_data: row.message_data })
  for (const group of groups) group.sort(newestFirst)
  return groups
}

export const makeBatchStatements = (sql: SqlClient.SqlClient, names: TableNames): BatchStatements => {
  const transaction = transactionOf(sql)
  const sessions = sql(names.sessions)
  const messages = sql(names.messages)
  const objectText = objectTextCondition(sql)

  const insertRows = (requests: ReadonlyArray<AppendRequest>) =>
    sql`INSERT INTO ${messages} ${
      sql.insert(
        requests.flatMap(({ messages: data, sessionId }) =>
          data.map((message_data) => ({ session_id: sessionId, message_data }))
        )
      )
    }`

  const operations = sql(names.operations)

  const touchAll = sql.onDialectOrElse({
    mysql: () => (ids: ReadonlyArray<string>) =>
      sql`INSERT INTO ${sessions} ${sql.insert(ids.map((session_id) => ({ session_id })))}
          ON DUPLICATE KEY UPDATE updated_at = CURRENT_TIMESTAMP(6)`,
    orElse: () => (ids: ReadonlyArray<string>) =>
      sql`INSERT INTO ${sessions} ${sql.insert(ids.map((session_id) => ({ session_id })))}
          ON CONFLICT (session_id) DO UPDATE SET updated_at = CURRENT_TIMESTAMP`
  })

  // One short transaction: sessions touched (and so locked) in sorted order, then one multi-row
  // insert in (request, item) order.
  const appendInTransaction = (requests: ReadonlyArray<AppendRequest>) =>
    transaction(Effect.zipRight(touchAll(sortedSessions(requests)), insertRows(requests))).pipe(Effect.asVoid)

  // One statement: a LATERAL backward range read of the (session_id, id) index per request, with
  // the same range condition as `selectNewest` so the planner keeps to the index. MySQL and SQLite
  // have no such plan that pays: a UNION ALL of per-session reads (in derived tables, the only form
  // both plan through the index) measured slower than single reads, so they read alone.
  const newestManyStatement = (requests: ReadonlyArray<NewestRequest>) =>
    sql<PositionedRow>`SELECT batch.position - 1 AS position, m.id, m.message_data
      FROM unnest(${requests.map((request) => request.sessionId)}::text[],
        ${requests.map((request) => request.limit)}::int[])
        WITH ORDINALITY AS batch(session_id, row_limit, position)
      CROSS JOIN LATERAL (
        SELECT id, message_data FROM ${messages}
        WHERE session_id >= batch.session_id AND session_id <= batch.session_id
        ORDER BY session_id DESC, id DESC LIMIT batch.row_limit) AS m`
  const selectNewestMany = (requests: ReadonlyArray<NewestRequest>) =>
    Effect.map(newestManyStatement(requests), (rows) => groupRows(requests.length, rows))

  // PostgreSQL pops in one statement: the newest row of each session, locked in sorted session
  // order (so concurrent combined pops cannot deadlock), deleted when its text starts like an
  // object. `remaining` is read on the statement's snapshot, so a row taken by a concurrent pop is
  // told apart from an empty session; a session whose newest row is not object text (a Python
  // row) reads as "no row popped, rows remain" and pops again alone, through the single pop,
  // which steps past such rows.
  // Every per-session lookup is a LATERAL `LIMIT 1` over `session_id = request.session_id`,
  // ordered as the (session_id, id) index, with no filter in the WHERE clause: the planner
  // guesses the object-text test rare, and with it in the WHERE clause it read and sorted whole
  // sessions, and made the correlated EXISTS a hashed subplan scanning the whole table on every
  // pop (test/store/statements.test.ts checks the plan on a skewed table).
  const popManyStatement = (sortedSessionIds: ReadonlyArray<string>) =>
    sql<PopResult & { session_id: string }>`WITH request AS (
          SELECT * FROM unnest(${sortedSessionIds}::text[]) WITH ORDINALITY AS request(session_id, position)),
        target AS (
          SELECT newest.id, newest.object_like, request.position FROM request CROSS JOIN LATERAL (
            SELECT id, ${objectText} AS object_like FROM ${messages}
            WHERE session_id = request.session_id
            ORDER BY session_id DESC, id DESC LIMIT 1 FOR UPDATE) AS newest),
        removed AS (
          DELETE FROM ${messages} WHERE id IN (SELECT id FROM target WHERE object_like) RETURNING id, message_data)
      SELECT request.session_id, removed.message_data, still.one IS NOT NULL AS remaining
      FROM request LEFT JOIN target ON target.position = request.position
      LEFT JOIN removed ON removed.id = target.id
      LEFT JOIN LATERAL (
        SELECT 1 AS one FROM ${messages} WHERE session_id = request.session_id
        ORDER BY session_id DESC, id DESC LIMIT 1) AS still ON true`
  const popsWith = (statement: (sortedSessionIds: ReadonlyArray<string>) => Statement.Statement<PoppedRow>) =>
  (sessionIds: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<PopResult>, SqlError> =>
    Effect.map(statement([...sessionIds].sort()), (rows) => {
      const bySession = new Map(rows.map((row) => [row.session_id, row]))
      return sessionIds.map((id) => {
        const row = bySession.get(id)
        return { message_data: row?.message_data ?? null, remaining: row?.remaining === true }
      })
    })

  // SQLite has one writer at a time, so a combined statement or transaction can neither race
  // another pop nor deadlock: the sessions' ids go in as one JSON array (one statement text for
  // every batch size, so the prepared-statement cache keeps it).
  const sqliteIds = (sessionIds: ReadonlyArray<string>) =>
    sql`SELECT value FROM json_each(${JSON.stringify(sessionIds)})`
  // Per session, the single pop's lookup (the newest object-text row, one backward step of the
  // (session_id, id) index past any rows that are not), all deleted by one statement.
  const sqlitePopManyStatement = (sortedSessionIds: ReadonlyArray<string>) =>
    sql<PoppedRow>`DELETE FROM ${messages} WHERE id IN (
        SELECT (SELECT newest.id FROM ${messages} AS newest
          WHERE newest.session_id = request.value AND ${objectText} ORDER BY newest.id DESC LIMIT 1)
        FROM json_each(${JSON.stringify(sortedSessionIds)}) AS request)
      RETURNING session_id, message_data`
  // One transaction: the items counted per session, then the rows of every session deleted.
  const sqliteClearMany = (sessionIds: ReadonlyArray<string>, withOperations: boolean) => {
    const ids = sqliteIds(sessionIds)
    return transaction(
      sql<{ session_id: string; removed: number }>`SELECT session_id, COUNT(*) AS removed FROM ${messages}
        WHERE session_id IN (${ids}) GROUP BY session_id`.pipe(
        Effect.tap(() => sql`DELETE FROM ${messages} WHERE session_id IN (${ids})`),
        Effect.tap(() => withOperations ? sql`DELETE FROM ${operations} WHERE session_id IN (${ids})` : Effect.void),
        Effect.tap(() => sql`DELETE FROM ${sessions} WHERE session_id IN (${ids})`),
        Effect.map((rows) => {
          const removed = new Map(rows.map((row) => [row.session_id, Number(row.removed)]))
          return sessionIds.map((id) => removed.get(id) ?? 0)
        })
      )
    )
  }

  return sql.onDialectOrElse({
    pg: () => ({
      newest: { newestManyStatement, selectNewestMany },
      pop: { popManyStatement, deleteNewestMany: popsWith(popManyStatement) },
      clear: undefined,
      // One statement: the sessions are upserted (and so locked) in sorted order, then every row is
      // inserted in (request, item) order; the sort consumes the whole join, locks included, before
      // `clock_timestamp()` is read for the first row, so created_at order stays id order.
      appendMany: (requests) => {
        const sessionIds = requests.flatMap(({ messages: data, sessionId }) => data.map(() => sessionId))
        const data = requests.flatMap((request) => request.messages)
        return sql`WITH batch AS (
              SELECT * FROM unnest(${sessionIds}::text[], ${data}::text[])
                WITH ORDINALITY AS batch(session_id, message_data, position)),
            touched AS (
              INSERT INTO ${sessions} (session_id)
              SELECT DISTINCT session_id FROM batch ORDER BY session_id
              ON CONFLICT (session_id) DO UPDATE SET updated_at = CURRENT_TIMESTAMP
              RETURNING session_id)
            INSERT INTO ${messages} (session_id, message_data, created_at)
            SELECT batch.session_id, batch.message_data, clock_timestamp()
            FROM batch JOIN touched ON touched.session_id = batch.session_id
            ORDER BY batch.position`.pipe(Effect.asVoid)
      }
    }),
    sqlite: () => ({
      newest: undefined,
      pop: { popManyStatement: sqlitePopManyStatement, deleteNewestMany: popsWith(sqlitePopManyStatement) },
      clear: { clearMany: sqliteClearMany },
      appendMany: appendInTransaction
    }),
    orElse: () => ({
      newest: undefined,
      pop: undefined,
      clear: undefined,
      appendMany: appendInTransaction
    })
  })
}

const PG_REQUEST_CLASSES = new Set(["22", "23", "54"]) // data exception, integrity, program limit
const MYSQL_REQUEST_CLASSES = new Set(["22", "23", "42"]) // data, integrity, syntax or access

/**
 * Whether the database rejected a statement, so it was rolled back and a part of it may succeed:
 * bad data, a constraint, a statement too large. A lost connection, a shutdown or a timeout is not
 * (whether it applied is unknown, so it is never run again), nor a transient failure (the caller's
 * own retry handles those).
 */
export const rejectedByDatabase = (error: SqlError): boolean => {
  const cause = error.cause as { code?: unknown; sqlState?: unknown; fatal?: unknown } | null | undefined
  if (cause === null || typeof cause !== "object") return false
  if (typeof cause.sqlState === "string") {
    return cause.fatal !== true && MYSQL_REQUEST_CLASSES.has(cause.sqlState.slice(0, 2))
  }
  if (typeof cause.code !== "string") return false
  if (/^SQLITE_/.test(cause.code)) return /^SQLITE_(CONSTRAINT|TOOBIG|MISMATCH|RANGE|ERROR)/.test(cause.code)
  return /^[0-9A-Z]{5}$/.test(cause.code) && PG_REQUEST_CLASSES.has(cause.code.slice(0, 2))
}
