/**
 * The catalogue's SQL, one set per dialect, chosen once: the in-place upgrade of existing tables
 * and the statements of the catalogue operations.
 *
 * Timestamps. The columns hold naive date-times (`TIMESTAMP` on PostgreSQL, `DATETIME(6)` or the
 * Python SDK's `TIMESTAMP` on MySQL, text on SQLite) written by `CURRENT_TIMESTAMP`, that is in
 * the connection's time zone (UTC on SQLite). They are read as instants by the database itself
 * (epoch milliseconds), and instants are written back through the same time zone, so a value
 * makes the round trip whatever the server's zone. Keyset cursors carry the stored value as text,
 * never a rounded instant, so no row is skipped or repeated at microsecond ties.
 */
import type { SqlClient, Statement } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"
import { transactionOf, type TableNames } from "./statements.js"

/** A session row as the catalogue reads it. */
export interface InfoRow {
  readonly session_id: string
  readonly owner: string | null
  readonly title: string | null
  readonly metadata: string | null
  readonly created_ms: number | string
  readonly updated_ms: number | string
  readonly expires_ms: number | string | null
  /** `updated_at` exactly as stored, as text: the keyset position. */
  readonly updated_key: string
  readonly item_count?: number | string
}

/** The catalogue columns to write; `undefined` leaves a column as it is. */
export interface SessionFields {
  readonly owner?: string | null | undefined
  readonly title?: string | null | undefined
  readonly metadata?: string | undefined
  /** Epoch milliseconds. */
  readonly expiresAt?: number | null | undefined
  readonly createdAt?: number | undefined
  readonly updatedAt?: number | undefined
}

export interface ListQuery {
  readonly owner: string | undefined
  readonly updatedAfter: number | undefined
  readonly updatedBefore: number | undefined
  readonly after: { readonly updatedKey: string; readonly sessionId: string } | undefined
  readonly limit: number
}

export interface DeleteQuery {
  readonly owner: string | undefined
  readonly idleBefore: number | undefined
  /** Epoch milliseconds of "now", when only expired sessions are wanted. */
  readonly expiredAt: number | undefined
}

export interface CatalogFeatures {
  /** `FOR UPDATE SKIP LOCKED`: PostgreSQL, MySQL 8, MariaDB 10.6+. */
  readonly skipLocked: boolean
}

/** FROM_UNIXTIME's range on MariaDB before 11.5 and MySQL before 8.0.28: up to 2038-01-19. */
const MAX_UNIX_TIME_MS = 2_147_483_647_000

const CATALOG_COLUMNS = ["owner", "title", "metadata", "expires_at"] as const

/** Reads what the server supports, once. */
export const detectCatalogFeatures = (sql: SqlClient.SqlClient): Effect.Effect<CatalogFeatures, SqlError> =>
  sql.onDialectOrElse({
    pg: () => Effect.succeed({ skipLocked: true }),
    mysql: () =>
      sql<{ version: string }>`SELECT VERSION() AS version`.pipe(
        Effect.map((rows) => {
          const version = String(rows[0]?.version ?? "")
          const [major = 0, minor = 0] = version.split(/[.-]/).map(Number)
          const mariadb = /mariadb/i.test(version)
          return { skipLocked: mariadb ? major > 10 || (major === 10 && minor >= 6) : major >= 8 }
        })
      ),
    orElse: () => Effect.succeed({ skipLocked: false })
  })

const errno = (error: SqlError): unknown => (error.cause as { errno?: unknown } | undefined)?.errno

/** The index names, derived from the sessions table (within PostgreSQL's 63 bytes). */
const indexNames = (names: TableNames) => ({
  owner: `${names.sessions}_owner_idx`,
  updated: `${names.sessions}_updated_idx`,
  expires: `${names.sessions}_expires_idx`
})

/**
 * Adds the catalogue columns and indexes where missing. Idempotent and safe from several
 * processes: it looks first and changes only what is missing (an `ALTER TABLE` that is not needed
 * would still queue for the table's exclusive lock), and a concurrent migrator's "already exists"
 * is success. On PostgreSQL it runs under the same advisory lock as `createTables`.
 */
export const upgradeCatalog = (sql: SqlClient.SqlClient, names: TableNames): Effect.Effect<void, SqlError> => {
  const sessions = sql(names.sessions)
  const index = indexNames(names)
  return sql.onDialectOrElse({
    pg: () => {
      const columnTypes = { owner: "VARCHAR(255)", title: "TEXT", metadata: "TEXT", expires_at: "TIMESTAMP" }
      return transactionOf(sql)(Effect.gen(function*() {
        yield* sql`SELECT pg_advisory_xact_lock(hashtext(${`agent-sessions-ddl:${names.messages}`}))`
        const present = yield* sql<{ name: string }>`SELECT attname AS name FROM pg_attribute
          WHERE attrelid = to_regclass(${`"${names.sessions}"`}) AND attnum > 0 AND NOT attisdropped`
        const have = new Set(present.map((row) => row.name))
        for (const column of CATALOG_COLUMNS) {
          if (have.has(column)) continue
          yield* sql`ALTER TABLE ${sessions} ADD COLUMN IF NOT EXISTS ${sql(column)} ${sql.literal(columnTypes[column])}`
        }
        const indexes: ReadonlyArray<readonly [string, Statement.Fragment]> = [
          [index.owner, sql`(owner, updated_at, session_id)`],
          [index.updated, sql`(updated_at, session_id)`],
          [index.expires, sql`(expires_at)`]
        ]
        for (const [name, columns] of indexes) {
          const [found] = yield* sql<{ found: boolean }>`SELECT to_regclass(${`"${name}"`}) IS NOT NULL AS found`
          if (found?.found !== true) yield* sql`CREATE INDEX IF NOT EXISTS ${sql(name)} ON ${sessions} ${columns}`
        }
      }))
    },
    mysql: () =>
      Effect.gen(function*() {
        const columnTypes = {
          owner: "VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL",
          title: "TEXT CHARACTER SET utf8mb4 NULL",
          metadata: "MEDIUMTEXT CHARACTER SET utf8mb4 NULL",
          expires_at: "DATETIME(6) NULL"
        }
        // DDL commits implicitly on MySQL: each step is idempotent on its own, and "duplicate
        // column" (1060) or "duplicate key name" (1061) means another migrator did it first.
        const present = yield* sql<{ name: string }>`SELECT column_name AS name FROM information_schema.columns
          WHERE table_schema = DATABASE() AND table_name = ${names.sessions}`
        const have = new Set(present.map((row) => String(row.name).toLowerCase()))
        for (const column of CATALOG_COLUMNS) {
          if (have.has(column)) continue
          yield* sql`ALTER TABLE ${sessions} ADD COLUMN ${sql(column)} ${sql.literal(columnTypes[column])}`.pipe(
            Effect.catchIf((error) => errno(error) === 1060, () => Effect.void)
          )
        }
        const existing = yield* sql<{ name: string }>`SELECT DISTINCT index_name AS name FROM information_schema.statistics
          WHERE table_schema = DATABASE() AND table_name = ${names.sessions}`
        const haveIndex = new Set(existing.map((row) => String(row.name)))
        const indexes: ReadonlyArray<readonly [string, Statement.Fragment]> = [
          [index.owner, sql`(owner, updated_at, session_id)`],
          [index.updated, sql`(updated_at, session_id)`],
          [index.expires, sql`(expires_at)`]
        ]
        for (const [name, columns] of indexes) {
          if (haveIndex.has(name)) continue
          yield* sql`CREATE INDEX ${sql(name)} ON ${sessions} ${columns}`.pipe(
            Effect.catchIf((error) => errno(error) === 1061, () => Effect.void)
          )
        }
      }),
    orElse: () =>
      Effect.gen(function*() {
        const columnTypes = { owner: "VARCHAR(255)", title: "TEXT", metadata: "TEXT", expires_at: "TIMESTAMP" }
        const present = yield* sql<{ name: string }>`SELECT name FROM pragma_table_info(${names.sessions})`
        const have = new Set(present.map((row) => row.name))
        for (const column of CATALOG_COLUMNS) {
          if (have.has(column)) continue
          yield* sql`ALTER TABLE ${sessions} ADD COLUMN ${sql(column)} ${sql.literal(columnTypes[column])}`.pipe(
            Effect.catchIf((error) => /duplicate column/i.test(String((error.cause as Error)?.message)), () => Effect.void)
          )
        }
        yield* sql`CREATE INDEX IF NOT EXISTS ${sql(index.owner)} ON ${sessions} (owner, updated_at, session_id)`
        yield* sql`CREATE INDEX IF NOT EXISTS ${sql(index.updated)} ON ${sessions} (updated_at, session_id)`
        yield* sql`CREATE INDEX IF NOT EXISTS ${sql(index.expires)} ON ${sessions} (expires_at)`
      })
  })
}

export const makeCatalogStatements = (sql: SqlClient.SqlClient, names: TableNames, features: CatalogFeatures) => {
  const sessions = sql(names.sessions)
  const messages = sql(names.messages)
  const operations = sql(names.operations)
  const transaction = transactionOf(sql)

  /** A stored date-time column as epoch milliseconds, computed by the database. */
  const instant = sql.onDialectOrElse({
    pg: () => (column: string) => sql`FLOOR(EXTRACT(EPOCH FROM ${sql(column)}::timestamptz) * 1000)::float8`,
    // UNIX_TIMESTAMP honours the session zone's DST but gives NULL outside 1970-2038 (MariaDB
    // before 11.5, MySQL before 8.0.28); beyond, the distance from the epoch in the session zone.
    mysql: () => (column: string) =>
      sql`FLOOR(COALESCE(UNIX_TIMESTAMP(${sql(column)}) * 1000,
        TIMESTAMPDIFF(MICROSECOND, FROM_UNIXTIME(0), ${sql(column)}) / 1000))`,
    orElse: () => (column: string) =>
      sql`CAST(ROUND((julianday(${sql(column)}) - 2440587.5) * 86400000.0) AS INTEGER)`
  })

  /** Epoch milliseconds as a value of a date-time column (the inverse of `instant`). */
  const dateTime = sql.onDialectOrElse({
    pg: () => (ms: number | null) =>
      ms === null ? sql`NULL` : sql`(${new Date(ms).toISOString()}::timestamptz)::timestamp`,
    mysql: () => (ms: number | null) =>
      ms === null
        ? sql`NULL`
        : ms >= 0 && ms < MAX_UNIX_TIME_MS
        ? sql`FROM_UNIXTIME(${(ms / 1000).toFixed(3)})`
        : sql`DATE_ADD(FROM_UNIXTIME(0), INTERVAL ${ms * 1000} MICROSECOND)`,
    // The Python SDK's and CURRENT_TIMESTAMP's text form; milliseconds only when there are any,
    // so text order stays time order.
    orElse: () => (ms: number | null) =>
      ms === null ? sql`NULL` : sql`${new Date(ms).toISOString().replace("T", " ").replace(/(\.000)?Z$/, "")}`
  })

  /** The stored `updated_at`, as text that compares exactly. */
  const updatedKey = sql.onDialectOrElse({
    pg: () => sql`to_char(updated_at, 'YYYY-MM-DD HH24:MI:SS.US')`,
    mysql: () => sql`DATE_FORMAT(updated_at, '%Y-%m-%d %H:%i:%s.%f')`,
    orElse: () => sql`CAST(updated_at AS TEXT)`
  })
  const fromKey = sql.onDialectOrElse({
    pg: () => (key: string) => sql`${key}::timestamp`,
    mysql: () => (key: string) => sql`CAST(${key} AS DATETIME(6))`,
    orElse: () => (key: string) => sql`${key}`
  })

  const now = sql.onDialectOrElse({
    mysql: () => sql`CURRENT_TIMESTAMP(6)`,
    orElse: () => sql`CURRENT_TIMESTAMP`
  })

  const lockClause = sql.onDialectOrElse({
    sqlite: () => sql.literal(""),
    orElse: () => sql.literal(features.skipLocked ? "FOR UPDATE SKIP LOCKED" : "FOR UPDATE")
  })
  const plainLock = sql.onDialectOrElse({ sqlite: () => sql.literal(""), orElse: () => sql.literal("FOR UPDATE") })

  const infoColumns = (withCount: boolean) =>
    sql`session_id, owner, title, metadata, ${instant("created_at")} AS created_ms,
      ${instant("updated_at")} AS updated_ms, ${instant("expires_at")} AS expires_ms,
      ${updatedKey} AS updated_key${
      withCount
        ? sql`, (SELECT COUNT(*) FROM ${messages} WHERE ${messages}.session_id = ${sessions}.session_id) AS item_count`
        : sql``
    }`

  const fieldAssignments = (fields: SessionFields): Array<readonly [string, Statement.Fragment]> => {
    const out: Array<readonly [string, Statement.Fragment]> = []
    if (fields.owner !== undefined) out.push(["owner", sql`${fields.owner}`])
    if (fields.title !== undefined) out.push(["title", sql`${fields.title}`])
    if (fields.metadata !== undefined) out.push(["metadata", sql`${fields.metadata}`])
    if (fields.expiresAt !== undefined) out.push(["expires_at", dateTime(fields.expiresAt)])
    if (fields.createdAt !== undefined) out.push(["created_at", dateTime(fields.createdAt)])
    if (fields.updatedAt !== undefined) out.push(["updated_at", dateTime(fields.updatedAt)])
    return out
  }

  const columnList = (assignments: ReadonlyArray<readonly [string, Statement.Fragment]>) =>
    sql.join(", ", false)(assignments.map(([column]) => sql`${sql(column)}`))
  const valueList = (assignments: ReadonlyArray<readonly [string, Statement.Fragment]>) =>
    sql.join(", ", false)(assignments.map(([, value]) => value))
  const setList = (assignments: ReadonlyArray<readonly [string, Statement.Fragment]>) =>
    sql.join(", ", false)(assignments.map(([column, value]) => sql`${sql(column)} = ${value}`))

  /** Creates the row or sets the given fields and touches `updated_at`, in one statement. */
  const upsertFields = (sessionId: string, fields: SessionFields) => {
    const assignments = fieldAssignments(fields)
    const columns = assignments.length === 0 ? sql`` : sql`, ${columnList(assignments)}`
    const values = assignments.length === 0 ? sql`` : sql`, ${valueList(assignments)}`
    const updates = sql`updated_at = ${now}${assignments.length === 0 ? sql`` : sql`, ${setList(assignments)}`}`
    return sql.onDialectOrElse({
      mysql: () =>
        sql`INSERT INTO ${sessions} (session_id${columns}) VALUES (${sessionId}${values})
          ON DUPLICATE KEY UPDATE ${updates}`,
      orElse: () =>
        sql`INSERT INTO ${sessions} (session_id${columns}) VALUES (${sessionId}${values})
          ON CONFLICT (session_id) DO UPDATE SET ${updates}`
    }).pipe(Effect.asVoid)
  }

  const selectInfo = (sessionId: string) =>
    sql<InfoRow>`SELECT ${infoColumns(true)} FROM ${sessions} WHERE session_id = ${sessionId}`.pipe(
      Effect.map((rows) => rows[0])
    )

  // One owner's sessions, newest first. PostgreSQL needs care: when one owner holds most
  // sessions it walks (updated_at, session_id) and filters, which reads every newer session of
  // everyone else when that owner's are old. As a range, ordered by (owner, updated_at,
  // session_id), only the owner index serves it. (Same rows: owner's collation is deterministic.)
  const ofOwner = sql.onDialectOrElse({
    pg: () => (owner: string) => sql`owner >= ${owner} AND owner <= ${owner}`,
    orElse: () => (owner: string) => sql`owner = ${owner}`
  })
  const newestFirst = sql`ORDER BY updated_at DESC, session_id DESC`
  const ownerNewestFirst = sql.onDialectOrElse({
    pg: () => sql`ORDER BY owner DESC, updated_at DESC, session_id DESC`,
    orElse: () => newestFirst
  })

  // Newest first, ties by session id descending: the (owner, updated_at, session_id) and
  // (updated_at, session_id) indexes serve it read backwards, and the keyset condition is a
  // range on updated_at (`<=`) with the exact tie-break as a filter, which every dialect's
  // planner turns into an index range.
  const selectPage = (query: ListQuery) => {
    const conditions: Array<Statement.Fragment> = []
    if (query.owner !== undefined) conditions.push(ofOwner(query.owner))
    if (query.updatedAfter !== undefined) conditions.push(sql`updated_at > ${dateTime(query.updatedAfter)}`)
    if (query.updatedBefore !== undefined) conditions.push(sql`updated_at < ${dateTime(query.updatedBefore)}`)
    if (query.after !== undefined) {
      const key = fromKey(query.after.updatedKey)
      conditions.push(sql`updated_at <= ${key}`)
      conditions.push(sql`(updated_at < ${key} OR session_id < ${query.after.sessionId})`)
    }
    const order = query.owner === undefined ? newestFirst : ownerNewestFirst
    return sql<InfoRow>`SELECT ${infoColumns(true)} FROM ${sessions}
      WHERE ${sql.and(conditions)} ${order} LIMIT ${query.limit}`
  }

  const deleteConditions = (query: DeleteQuery): Array<Statement.Fragment> => {
    const conditions: Array<Statement.Fragment> = []
    if (query.owner !== undefined) conditions.push(sql`owner = ${query.owner}`)
    if (query.idleBefore !== undefined) conditions.push(sql`updated_at < ${dateTime(query.idleBefore)}`)
    if (query.expiredAt !== undefined) conditions.push(sql`expires_at <= ${dateTime(query.expiredAt)}`)
    return conditions
  }

  /** Up to `limit` sessions matching the filter, read through the filter's index, unlocked. */
  const selectCandidates = (query: DeleteQuery, limit: number) =>
    sql<{ session_id: string }>`SELECT session_id FROM ${sessions} WHERE ${sql.and(deleteConditions(query))}
      LIMIT ${limit}`.pipe(Effect.map((rows) => rows.map((row) => row.session_id)))

  /**
   * Deletes those of `ids` that still match the filter, in one transaction: the predicate is
   * checked again under the row lock, so a session written to since it was selected survives,
   * and a writer that arrives afterwards waits and then creates the session anew. Rows another
   * pruner holds are skipped where the server can.
   */
  const deleteBatch = (ids: ReadonlyArray<string>, query: DeleteQuery, withOperations: boolean) =>
    transaction(Effect.gen(function*() {
      const locked = yield* sql<{ session_id: string }>`SELECT session_id FROM ${sessions}
        WHERE ${sql.in("session_id", ids)} AND ${sql.and(deleteConditions(query))}
        ORDER BY session_id ${lockClause}`
      if (locked.length === 0) return 0
      const lockedIds = locked.map((row) => row.session_id)
      yield* sql`DELETE FROM ${messages} WHERE ${sql.in("session_id", lockedIds)}`
      if (withOperations) yield* sql`DELETE FROM ${operations} WHERE ${sql.in("session_id", lockedIds)}`
      yield* sql`DELETE FROM ${sessions} WHERE ${sql.in("session_id", lockedIds)}`
      return lockedIds.length
    }))

  // Export: sessions by session id, items by (session_id, id), both by keyset.
  const selectExportPage = (owner: string | undefined, afterId: string | undefined, limit: number) => {
    const conditions: Array<Statement.Fragment> = []
    if (owner !== undefined) conditions.push(sql`owner = ${owner}`)
    if (afterId !== undefined) conditions.push(sql`session_id > ${afterId}`)
    return sql<InfoRow>`SELECT ${infoColumns(false)} FROM ${sessions} WHERE ${sql.and(conditions)}
      ORDER BY session_id LIMIT ${limit}`
  }

  const selectExportInfo = (sessionId: string, owner: string | undefined) =>
    sql<InfoRow>`SELECT ${infoColumns(false)} FROM ${sessions} WHERE session_id = ${sessionId}${
      owner === undefined ? sql`` : sql` AND owner = ${owner}`
    }`.pipe(Effect.map((rows) => rows[0]))

  const selectItemsPage = (sessionId: string, afterId: string | number | undefined, limit: number) =>
    sql<{ id: string | number; message_data: string }>`SELECT id, message_data FROM ${messages}
      WHERE session_id = ${sessionId}${afterId === undefined ? sql`` : sql` AND id > ${afterId}`}
      ORDER BY session_id, id LIMIT ${limit}`

  // Import, inside the session's transaction.

  /** Inserts the session row when absent; `true` when it did (and so holds its lock). */
  const insertIfAbsent = sql.onDialectOrElse({
    // Not INSERT IGNORE (it would also truncate an over-long value silently), and not ON
    // DUPLICATE KEY (mysql2's FOUND_ROWS makes its row count ambiguous): look under lock first,
    // and a concurrent importer's duplicate key (1062) means the row exists.
    mysql: () => (sessionId: string, fields: SessionFields) => {
      const assignments = fieldAssignments(fields)
      return sql`SELECT session_id FROM ${sessions} WHERE session_id = ${sessionId} FOR UPDATE`.pipe(
        Effect.flatMap((rows) =>
          rows.length > 0 ? Effect.succeed(false) : sql`INSERT INTO ${sessions} (session_id, ${columnList(assignments)})
            VALUES (${sessionId}, ${valueList(assignments)})`.pipe(
            Effect.as(true),
            Effect.catchIf((error) => errno(error) === 1062, () => Effect.succeed(false))
          )
        )
      )
    },
    orElse: () => (sessionId: string, fields: SessionFields) => {
      const assignments = fieldAssignments(fields)
      return sql`INSERT INTO ${sessions} (session_id, ${columnList(assignments)})
        VALUES (${sessionId}, ${valueList(assignments)})
        ON CONFLICT (session_id) DO NOTHING RETURNING session_id`.pipe(Effect.map((rows) => rows.length === 1))
    }
  })

  const lockSessionRow = (sessionId: string) =>
    sql`SELECT session_id FROM ${sessions} WHERE session_id = ${sessionId} ${plainLock}`.pipe(Effect.asVoid)

  const setFields = (sessionId: string, fields: SessionFields) =>
    sql`UPDATE ${sessions} SET ${setList(fieldAssignments(fields))} WHERE session_id = ${sessionId}`.pipe(Effect.asVoid)

  const touch = (sessionId: string) =>
    sql`UPDATE ${sessions} SET updated_at = ${now} WHERE session_id = ${sessionId}`.pipe(Effect.asVoid)

  const deleteContents = (sessionId: string, withOperations: boolean) =>
    sql`DELETE FROM ${messages} WHERE session_id = ${sessionId}`.pipe(
      Effect.zipRight(withOperations ? Effect.asVoid(sql`DELETE FROM ${operations} WHERE session_id = ${sessionId}`) : Effect.void),
      Effect.asVoid
    )

  /** Whether the sessions table has the catalogue columns (not before the upgrade). */
  const hasCatalogColumns = sql.onDialectOrElse({
    pg: () =>
      sql<{ found: number | string }>`SELECT COUNT(*) AS found FROM pg_attribute
        WHERE attrelid = to_regclass(${`"${names.sessions}"`}) AND attname IN ('owner', 'title', 'metadata', 'expires_at')
        AND NOT attisdropped`,
    mysql: () =>
      sql<{ found: number | string }>`SELECT COUNT(*) AS found FROM information_schema.columns
        WHERE table_schema = DATABASE() AND table_name = ${names.sessions}
        AND column_name IN ('owner', 'title', 'metadata', 'expires_at')`,
    orElse: () =>
      sql<{ found: number | string }>`SELECT COUNT(*) AS found FROM pragma_table_info(${names.sessions})
        WHERE name IN ('owner', 'title', 'metadata', 'expires_at')`
  }).pipe(Effect.map((rows) => Number(rows[0]?.found ?? 0) === CATALOG_COLUMNS.length))

  return {
    hasCatalogColumns,
    upsertFields,
    selectInfo,
    selectPage,
    selectCandidates,
    deleteBatch,
    selectExportPage,
    selectExportInfo,
    selectItemsPage,
    insertIfAbsent,
    lockSessionRow,
    setFields,
    touch,
    deleteContents
  }
}

export type CatalogStatements = ReturnType<typeof makeCatalogStatements>
