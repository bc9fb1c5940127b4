/**
 * The SQL of the store, one set per dialect, chosen once when the store is built.
 *
 * Every function works on encoded rows (`message_data` strings); schemas are applied by the
 * caller. Every identifier goes through `sql(identifier)` after validation, and every caller
 * value is a bound parameter.
 */
import type { SqlClient, Statement } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Option } from "effect"
import { chunkIds, chunkLimits, type ChunkLimits, planChunks } from "./chunking.js"

export interface TableNames {
  readonly sessions: string
  readonly messages: string
  readonly operations: string
}

/** A stored message as read back: `id` is a string on PostgreSQL (BIGINT) and a number elsewhere. */
export interface MessageRow {
  readonly id: string | number
  readonly message_data: string
}

export interface Statements {
  /** Idempotent DDL, safe when several processes run it at once. */
  readonly createTables: Effect.Effect<void, SqlError>
  /** How many rows and bytes one statement may carry on this server. */
  readonly limits: ChunkLimits
  /** Creates or touches the session row and appends the rows, atomically and contiguously. */
  readonly appendMessages: (sessionId: string, messages: ReadonlyArray<string>) => Effect.Effect<void, SqlError>
  /** Up to `limit` rows older than `beforeId` (when given), newest first. */
  readonly selectNewest: (
    sessionId: string,
    limit: number,
    beforeId: string | number | undefined
  ) => Effect.Effect<ReadonlyArray<MessageRow>, SqlError>
  /** Every row, oldest first. */
  readonly selectAll: (sessionId: string) => Effect.Effect<ReadonlyArray<MessageRow>, SqlError>
  /**
   * Deletes the newest row whose text starts with "{" (after JSON whitespace) and returns its
   * text; `None` when there is none. Rows above it are left alone: their text is not an object,
   * so the default codec could not return them, and the Python SDK may read them (`42`, `[1]`).
   */
  readonly deleteNewest: (sessionId: string) => Effect.Effect<Option.Option<string>, SqlError>
  /** PostgreSQL: the statement `deleteNewest` sends first, for the plan test. */
  readonly popStatement?: ((sessionId: string) => Statement.Statement<unknown>) | undefined
  /** Deletes the session's rows, its operation ids and its session row; returns the rows deleted. */
  readonly clearSession: (sessionId: string, withOperations: boolean) => Effect.Effect<number, SqlError>

  // The statements below run inside `sql.withTransaction`, after the session row is locked.

  /** Creates or touches the session row, holding its lock until the transaction ends. */
  readonly lockSession: (sessionId: string) => Effect.Effect<void, SqlError>
  /** Locks the session row when it exists; `false` when there is no such session. */
  readonly lockExistingSession: (sessionId: string) => Effect.Effect<boolean, SqlError>
  /** Appends rows; the caller holds the session lock. */
  readonly insertMessages: (sessionId: string, messages: ReadonlyArray<string>) => Effect.Effect<void, SqlError>
  /** Like `selectNewest`, locking the rows it returns. */
  readonly selectNewestForUpdate: (
    sessionId: string,
    limit: number,
    beforeId: string | number | undefined
  ) => Effect.Effect<ReadonlyArray<MessageRow>, SqlError>
  /** Like `selectAll`, locking the rows it returns. */
  readonly selectAllForUpdate: (sessionId: string) => Effect.Effect<ReadonlyArray<MessageRow>, SqlError>
  readonly deleteAllMessages: (sessionId: string) => Effect.Effect<void, SqlError>
  readonly deleteIds: (ids: ReadonlyArray<string | number>) => Effect.Effect<void, SqlError>
  readonly updateMessage: (id: string | number, messageData: string) => Effect.Effect<void, SqlError>
  /** The recorded digest of an operation, if it was applied. */
  readonly findOperation: (sessionId: string, operationKey: string) => Effect.Effect<Option.Option<string>, SqlError>
  readonly insertOperation: (sessionId: string, operationKey: string, digest: string) => Effect.Effect<void, SqlError>
}

/**
 * `sql.withTransaction`, with a failed COMMIT or ROLLBACK (a lost connection, say) kept as the
 * `SqlError` it is: `@effect/sql` turns those into defects, which would escape our typed errors.
 */
export const transactionOf = (sql: SqlClient.SqlClient) =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, R> =>
  sql.withTransaction(effect).pipe(
    Effect.catchAllDefect((defect) =>
      (defect as { _tag?: unknown } | null)?._tag === "SqlError" ? Effect.fail(defect as SqlError) : Effect.die(defect)
    )
  )

/** What the connected server can do, beyond its dialect. */
export interface ServerFeatures {
  /** MariaDB 10.5+: `DELETE … RETURNING`, so a pop is one statement. */
  readonly deleteReturning: boolean
  /** MySQL/MariaDB: the server's `max_allowed_packet`, the most one statement may carry. */
  readonly maxPacketBytes?: number | undefined
}

/** Reads the server's version once, when the store is built. */
export const detectFeatures = (sql: SqlClient.SqlClient): Effect.Effect<ServerFeatures, SqlError> =>
  sql.onDialectOrElse({
    mysql: () =>
      sql<{ version: string; max_packet: number | string | null }>`SELECT VERSION() AS version,
        @@max_allowed_packet AS max_packet`.pipe(
        Effect.map((rows) => {
          const version = String(rows[0]?.version ?? "")
          const [major = 0, minor = 0] = version.split(/[.-]/).map(Number)
          const maxPacketBytes = Number(rows[0]?.max_packet)
          return {
            deleteReturning: /mariadb/i.test(version) && (major > 10 || (major === 10 && minor >= 5)),
            maxPacketBytes: Number.isSafeInteger(maxPacketBytes) && maxPacketBytes > 0 ? maxPacketBytes : undefined
          }
        })
      ),
    orElse: () => Effect.succeed({ deleteReturning: false })
  })

/**
 * "The text starts with {", after JSON whitespace (looked for in the first 256 characters). Any
 * text Python can read that passes is an object, which the default codec decodes; so a popped row
 * that fails to decode is unreadable for everyone, and deleting it loses nothing.
 */
export const objectTextCondition = (sql: SqlClient.SqlClient) =>
  sql.onDialectOrElse({
    // substr reads only the start of a TOASTed value; LIKE on the column would read all of it.
    pg: () =>
      sql`(substr(message_data, 1, 1) = '{'
        OR ltrim(substr(message_data, 1, 256), ' ' || chr(9) || chr(10) || chr(13)) LIKE '{%')`,
    mysql: () => sql`(message_data LIKE '{%' OR LEFT(message_data, 256) REGEXP '^[[:space:]]+[{]')`,
    orElse: () => sql`(message_data LIKE '{%' OR ltrim(substr(message_data, 1, 256), ' ' || char(9, 10, 13)) LIKE '{%')`
  })

export const makeStatements = (
  sql: SqlClient.SqlClient,
  names: TableNames,
  features: ServerFeatures = { deleteReturning: false }
): Statements => {
  const transaction = transactionOf(sql)
  const limits = chunkLimits(sql, features.maxPacketBytes)
  const sessions = sql(names.sessions)
  const messages = sql(names.messages)
  const operations = sql(names.operations)
  const messagesIndex = sql(`${names.messages}_session_id_idx`)
  const operationsFk = `${names.operations}_session_fk`

  // SQLite has no row locks: its transactions already hold the whole database.
  const rowLock = sql.onDialectOrElse({ sqlite: () => sql.literal(""), orElse: () => sql.literal("FOR UPDATE") })
  const noLock = sql.literal("")

  // "The newest rows of one session". PostgreSQL needs care: for a session that holds a large
  // share of the table it prefers walking the primary key backwards and filtering, which reads
  // every newer row of every other session (measured: 268 ms instead of 0.06 ms for 20 rows of a
  // 10⁵-item session in a 10⁶-row table). A range on session_id, ordered by (session_id, id), is
  // only servable by the (session_id, id) index. (Same rows: the column's collation is
  // deterministic, so x >= s AND x <= s means x = s.)
  const newestOfSession = sql.onDialectOrElse({
    pg: () => (sessionId: string) =>
      sql`session_id >= ${sessionId} AND session_id <= ${sessionId}`,
    orElse: () => (sessionId: string) => sql`session_id = ${sessionId}`
  })
  const objectText = objectTextCondition(sql)
  const newestFirst = sql.onDialectOrElse({
    pg: () => sql.literal("ORDER BY session_id DESC, id DESC"),
    orElse: () => sql.literal("ORDER BY id DESC")
  })

  const selectNewestWith = (forUpdate: boolean) =>
  (sessionId: string, limit: number, beforeId: string | number | undefined) => {
    const lock = forUpdate ? rowLock : noLock
    return beforeId === undefined
      ? sql<MessageRow>`SELECT id, message_data FROM ${messages}
          WHERE ${newestOfSession(sessionId)} ${newestFirst} LIMIT ${limit} ${lock}`
      : sql<MessageRow>`SELECT id, message_data FROM ${messages}
          WHERE ${newestOfSession(sessionId)} AND id < ${beforeId} ${newestFirst} LIMIT ${limit} ${lock}`
  }

  const selectAllWith = (forUpdate: boolean) => (sessionId: string) =>
    sql<MessageRow>`SELECT id, message_data FROM ${messages} WHERE session_id = ${sessionId} ORDER BY id ${
      forUpdate ? rowLock : noLock
    }`

  // PostgreSQL pops. The common case is the raw driver's one statement: the newest row, whatever
  // its text, is one backward step of the (session_id, id) index, deleted when its text starts
  // like an object. The object-text test stays out of the subquery: the planner guesses it rare,
  // and with it there it read and sorted the whole session on every pop.
  const pgPopNewest = (sessionId: string) =>
    sql<{ message_data: string }>`DELETE FROM ${messages} WHERE id = (
        SELECT id FROM ${messages} WHERE ${newestOfSession(sessionId)} ${newestFirst} LIMIT 1 FOR UPDATE)
      AND ${objectText} RETURNING message_data`
  // When that deleted nothing (an empty session, a newest row that is not object text, or a row a
  // concurrent pop took first): the newest object row, past any others, and on the statement's
  // snapshot whether rows remain, so a row taken by a concurrent pop is told apart from an empty
  // session. This reads the whole session when the planner so chooses; it is the rare path.
  const pgPopObject = (sessionId: string) =>
    sql<{ message_data: string | null; remaining: boolean }>`WITH target AS (
        SELECT id FROM ${messages} WHERE ${newestOfSession(sessionId)} AND ${objectText}
        ${newestFirst} LIMIT 1 FOR UPDATE),
      removed AS (
        DELETE FROM ${messages} WHERE id IN (SELECT id FROM target) RETURNING message_data)
      SELECT (SELECT message_data FROM removed) AS message_data,
        EXISTS (SELECT 1 FROM ${messages} WHERE session_id = ${sessionId} AND ${objectText}) AS remaining`

  // PostgreSQL: one text[] parameter whatever the row count, and `clock_timestamp()` read after
  // the session lock, so readers that order by (created_at, id), like the Python SDK, agree with
  // us; the default CURRENT_TIMESTAMP is the transaction's start, which can be before an earlier
  // writer's commit. Elsewhere CURRENT_TIMESTAMP is the statement's time, already after the lock.
  const insertChunk = sql.onDialectOrElse({
    pg: () => (sessionId: string, data: ReadonlyArray<string>) =>
      sql`INSERT INTO ${messages} (session_id, message_data, created_at)
        SELECT ${sessionId}, batch.message_data, clock_timestamp()
        FROM unnest(${data}::text[]) WITH ORDINALITY AS batch(message_data, position)
        ORDER BY batch.position`,
    orElse: () => (sessionId: string, data: ReadonlyArray<string>) =>
      sql`INSERT INTO ${messages} ${sql.insert(data.map((message_data) => ({ session_id: sessionId, message_data })))}`
  })

  const insertChunks = (sessionId: string, chunks: ReadonlyArray<ReadonlyArray<string>>) =>
    Effect.forEach(chunks, (chunk) => insertChunk(sessionId, chunk), { discard: true })

  /** Appends rows in as many statements as the limits need; the caller holds the session lock. */
  const insertMessages = (sessionId: string, data: ReadonlyArray<string>): Effect.Effect<void, SqlError> =>
    insertChunks(sessionId, planChunks(data, limits, sessionId))

  const touchSession = sql.onDialectOrElse({
    pg: () => (sessionId: string) =>
      sql`INSERT INTO ${sessions} (session_id) VALUES (${sessionId})
          ON CONFLICT (session_id) DO UPDATE SET updated_at = CURRENT_TIMESTAMP`,
    mysql: () => (sessionId: string) =>
      sql`INSERT INTO ${sessions} (session_id) VALUES (${sessionId})
          ON DUPLICATE KEY UPDATE updated_at = CURRENT_TIMESTAMP(6)`,
    orElse: () => (sessionId: string) =>
      sql`INSERT INTO ${sessions} (session_id) VALUES (${sessionId})
          ON CONFLICT (session_id) DO UPDATE SET updated_at = CURRENT_TIMESTAMP`
  })

  const lockExistingSession = (sessionId: string) =>
    sql`SELECT 1 AS found FROM ${sessions} WHERE session_id = ${sessionId} ${rowLock}`.pipe(
      Effect.map((rows) => rows.length > 0)
    )

  /** Rows changed by a statement, from the driver's raw result (MySQL and SQLite). */
  const affectedRows = (raw: unknown): number => {
    const result = raw as { affectedRows?: number; changes?: number } | null
    return Number(result?.affectedRows ?? result?.changes ?? 0)
  }

  const deleteSessionRows = (sessionId: string, withOperations: boolean) =>
    sql`DELETE FROM ${messages} WHERE session_id = ${sessionId}`.raw.pipe(
      Effect.map(affectedRows),
      Effect.tap(() => withOperations ? sql`DELETE FROM ${operations} WHERE session_id = ${sessionId}` : Effect.void),
      Effect.tap(() => sql`DELETE FROM ${sessions} WHERE session_id = ${sessionId}`)
    )

  const dialect = sql.onDialectOrElse({
    pg: () => ({
      createTables: transaction(
        // Concurrent CREATE TABLE IF NOT EXISTS can still collide in pg's catalogs: serialize it.
        sql`SELECT pg_advisory_xact_lock(hashtext(${`agent-sessions-ddl:${names.messages}`}))`.pipe(
          Effect.zipRight(sql`CREATE TABLE IF NOT EXISTS ${sessions} (
            session_id VARCHAR(255) NOT NULL PRIMARY KEY,
            created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
            updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)`),
          Effect.zipRight(sql`CREATE TABLE IF NOT EXISTS ${messages} (
            id BIGSERIAL NOT NULL PRIMARY KEY,
            session_id VARCHAR(255) NOT NULL REFERENCES ${sessions} (session_id) ON DELETE CASCADE,
            message_data TEXT NOT NULL,
            created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)`),
          Effect.zipRight(sql`CREATE INDEX IF NOT EXISTS ${messagesIndex} ON ${messages} (session_id, id)`),
          Effect.zipRight(sql`CREATE TABLE IF NOT EXISTS ${operations} (
            session_id VARCHAR(255) NOT NULL REFERENCES ${sessions} (session_id) ON DELETE CASCADE,
            operation_key CHAR(64) NOT NULL,
            transaction_digest CHAR(64) NOT NULL,
            created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
            PRIMARY KEY (session_id, operation_key))`)
        )
      ),
      // One statement: the upsert's row lock orders concurrent batches of one session, and
      // `unnest ... WITH ORDINALITY` keeps the caller's order. `clock_timestamp()` is read after
      // the lock, so readers that order by (created_at, id), like the Python SDK, agree with us.
      // A batch too big for one statement is cut, in one transaction that holds the lock.
      appendMessages: (sessionId: string, data: ReadonlyArray<string>) => {
        const chunks = planChunks(data, limits, sessionId)
        return chunks.length > 1
          ? transaction(Effect.zipRight(touchSession(sessionId), insertChunks(sessionId, chunks)))
          : sql`WITH touched AS (
              INSERT INTO ${sessions} (session_id) VALUES (${sessionId})
              ON CONFLICT (session_id) DO UPDATE SET updated_at = CURRENT_TIMESTAMP
              RETURNING session_id)
            INSERT INTO ${messages} (session_id, message_data, created_at)
            SELECT touched.session_id, batch.message_data, clock_timestamp()
            FROM touched, unnest(${data}::text[]) WITH ORDINALITY AS batch(message_data, position)
            ORDER BY batch.position`.pipe(Effect.asVoid)
      },
      // One statement in the common case. Otherwise the filtered pop: `FOR UPDATE` waits for a
      // concurrent pop; if that pop took our row, the result is empty while the (older) snapshot
      // still sees rows, and the statement runs again.
      deleteNewest: (sessionId: string): Effect.Effect<Option.Option<string>, SqlError> => {
        const popObject: Effect.Effect<Option.Option<string>, SqlError> = Effect.flatMap(
          pgPopObject(sessionId),
          ([row]) =>
            row !== undefined && row.message_data === null && row.remaining
              ? popObject
              : Effect.succeed(Option.fromNullable(row?.message_data))
        )
        return Effect.flatMap(
          pgPopNewest(sessionId),
          ([row]) => row === undefined ? popObject : Effect.succeedSome(row.message_data)
        )
      },
      popStatement: pgPopNewest,
      clearSession: (sessionId: string, withOperations: boolean) =>
        (withOperations
          ? sql<{ removed: number | string }>`WITH removed_messages AS (
                DELETE FROM ${messages} WHERE session_id = ${sessionId} RETURNING 1),
              removed_operations AS (DELETE FROM ${operations} WHERE session_id = ${sessionId}),
              removed_session AS (DELETE FROM ${sessions} WHERE session_id = ${sessionId})
              SELECT COUNT(*) AS removed FROM removed_messages`
          : sql<{ removed: number | string }>`WITH removed_messages AS (
                DELETE FROM ${messages} WHERE session_id = ${sessionId} RETURNING 1),
              removed_session AS (DELETE FROM ${sessions} WHERE session_id = ${sessionId})
              SELECT COUNT(*) AS removed FROM removed_messages`).pipe(Effect.map((rows) => Number(rows[0]?.removed ?? 0)))
    }),
    mysql: () => ({
      createTables: Effect.all([
        sql`CREATE TABLE IF NOT EXISTS ${sessions} (
          session_id VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL PRIMARY KEY,
          created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
          updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
        sql`CREATE TABLE IF NOT EXISTS ${messages} (
          id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
          session_id VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
          message_data LONGTEXT CHARACTER SET utf8mb4 NOT NULL,
          created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
          INDEX ${messagesIndex} (session_id, id),
          FOREIGN KEY (session_id) REFERENCES ${sessions} (session_id) ON DELETE CASCADE
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
        // Tables made by the Python SDK lack our index; MySQL has no CREATE INDEX IF NOT EXISTS.
        sql<{ found: number }>`SELECT COUNT(*) AS found FROM information_schema.statistics
          WHERE table_schema = DATABASE() AND table_name = ${names.messages}
          AND index_name = ${`${names.messages}_session_id_idx`}`.pipe(
          Effect.flatMap((rows) =>
            Number(rows[0]?.found ?? 0) > 0
              ? Effect.void
              : sql`CREATE INDEX ${messagesIndex} ON ${messages} (session_id, id)`.pipe(
                // Another process created it first.
                Effect.catchIf((error) => (error.cause as { errno?: number })?.errno === 1061, () => Effect.void)
              )
          )
        ),
        sql`CREATE TABLE IF NOT EXISTS ${operations} (
          session_id VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
          operation_key CHAR(64) NOT NULL,
          transaction_digest CHAR(64) NOT NULL,
          created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
          PRIMARY KEY (session_id, operation_key),
          CONSTRAINT ${sql(operationsFk)} FOREIGN KEY (session_id) REFERENCES ${sessions} (session_id) ON DELETE CASCADE
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`
      ], { discard: true }),
      // MySQL has no RETURNING or data-modifying CTEs: one short transaction.
      appendMessages: (sessionId: string, data: ReadonlyArray<string>) =>
        transaction(Effect.zipRight(touchSession(sessionId), insertMessages(sessionId, data))),
      deleteNewest: features.deleteReturning
        // MariaDB: one autocommit statement; the row lock decides which of two pops gets the row.
        ? (sessionId: string) =>
          sql<{ message_data: string }>`DELETE FROM ${messages} WHERE session_id = ${sessionId} AND ${objectText}
            ORDER BY id DESC LIMIT 1 RETURNING message_data`.pipe(
            Effect.map((rows) => Option.fromNullable(rows[0]?.message_data))
          )
        // MySQL has no DELETE … RETURNING: lock the newest row, then delete it.
        : (sessionId: string) =>
        transaction(
          sql<MessageRow>`SELECT id, message_data FROM ${messages} WHERE session_id = ${sessionId} AND ${objectText}
            ORDER BY id DESC LIMIT 1 FOR UPDATE`.pipe(
            Effect.flatMap((rows) =>
              rows.length === 0
                ? Effect.succeedNone
                : sql`DELETE FROM ${messages} WHERE id = ${rows[0]!.id}`.pipe(Effect.as(Option.some(rows[0]!.message_data)))
            )
          )
        ),
      // The session row first, as appends lock it first: deleting the messages first took
      // next-key locks an append's insert waits on, while that append held the session row the
      // clear needed next, and InnoDB broke the deadlock by failing one of them.
      clearSession: (sessionId: string, withOperations: boolean) =>
        transaction(Effect.zipRight(lockExistingSession(sessionId), deleteSessionRows(sessionId, withOperations)))
    }),
    orElse: () => ({
      createTables: Effect.all([
        sql`CREATE TABLE IF NOT EXISTS ${sessions} (
          session_id VARCHAR(255) NOT NULL PRIMARY KEY,
          created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
          updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)`,
        sql`CREATE TABLE IF NOT EXISTS ${messages} (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          session_id VARCHAR(255) NOT NULL REFERENCES ${sessions} (session_id) ON DELETE CASCADE,
          message_data TEXT NOT NULL,
          created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)`,
        sql`CREATE INDEX IF NOT EXISTS ${messagesIndex} ON ${messages} (session_id, id)`,
        sql`CREATE TABLE IF NOT EXISTS ${operations} (
          session_id VARCHAR(255) NOT NULL REFERENCES ${sessions} (session_id) ON DELETE CASCADE,
          operation_key CHAR(64) NOT NULL,
          transaction_digest CHAR(64) NOT NULL,
          created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
          PRIMARY KEY (session_id, operation_key))`
      ], { discard: true }),
      appendMessages: (sessionId: string, data: ReadonlyArray<string>) =>
        transaction(Effect.zipRight(touchSession(sessionId), insertMessages(sessionId, data))),
      deleteNewest: (sessionId: string) =>
        sql<{ message_data: string }>`DELETE FROM ${messages} WHERE id = (
            SELECT id FROM ${messages} WHERE session_id = ${sessionId} AND ${objectText} ORDER BY id DESC LIMIT 1)
          RETURNING message_data`.pipe(Effect.map((rows) => Option.fromNullable(rows[0]?.message_data))),
      clearSession: (sessionId: string, withOperations: boolean) =>
        transaction(deleteSessionRows(sessionId, withOperations))
    })
  })

  return {
    ...dialect,
    limits,
    selectNewest: selectNewestWith(false),
    selectAll: selectAllWith(false),
    lockSession: (sessionId) => Effect.asVoid(touchSession(sessionId)),
    lockExistingSession,
    insertMessages,
    selectNewestForUpdate: selectNewestWith(true),
    selectAllForUpdate: selectAllWith(true),
    deleteAllMessages: (sessionId) => Effect.asVoid(sql`DELETE FROM ${messages} WHERE session_id = ${sessionId}`),
    deleteIds: (ids) =>
      ids.length === 0 ? Effect.void : Effect.forEach(
        chunkIds(ids, limits),
        (chunk) => sql`DELETE FROM ${messages} WHERE ${sql.in("id", chunk)}`,
        { discard: true }
      ),
    updateMessage: (id, messageData) =>
      Effect.asVoid(sql`UPDATE ${messages} SET message_data = ${messageData} WHERE id = ${id}`),
    findOperation: (sessionId, operationKey) =>
      sql<{ transaction_digest: string }>`SELECT transaction_digest FROM ${operations}
        WHERE session_id = ${sessionId} AND operation_key = ${operationKey}`.pipe(
        Effect.map((rows) => Option.fromNullable(rows[0]?.transaction_digest))
      ),
    insertOperation: (sessionId, operationKey, digest) =>
      Effect.asVoid(sql`INSERT INTO ${operations} ${
        sql.insert({ session_id: sessionId, operation_key: operationKey, transaction_digest: digest })
      }`)
  }
}
