/**
 * What the store checks about its tables when it is built, in one query per dialect: which of
 * them exist, and on MySQL/MariaDB how their `session_id` columns compare text. Problems become
 * errors that say what to do, before any operation can fail obscurely or mix sessions up.
 */
import type { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"
import type { TableNames } from "./statements.js"

/** A `session_id` column as MySQL/MariaDB describes it. */
export interface SessionIdColumn {
  readonly table: string
  readonly collation: string | null
  readonly columnType: string
}

export interface TableReport {
  /** Tables among sessions, messages and operations that exist. */
  readonly present: ReadonlySet<string>
  /** MySQL/MariaDB only: the `session_id` columns of the tables that exist. */
  readonly sessionIdColumns: ReadonlyArray<SessionIdColumn>
}

/** Reads the report in one query (where the store used to look only for the operations table). */
export const inspectTables = (sql: SqlClient.SqlClient, names: TableNames): Effect.Effect<TableReport, SqlError> => {
  const all = [names.sessions, names.messages, names.operations]
  return sql.onDialectOrElse({
    pg: () =>
      sql<{ sessions: boolean; messages: boolean; operations: boolean }>`SELECT
        to_regclass(${`"${names.sessions}"`}) IS NOT NULL AS sessions,
        to_regclass(${`"${names.messages}"`}) IS NOT NULL AS messages,
        to_regclass(${`"${names.operations}"`}) IS NOT NULL AS operations`.pipe(
        Effect.map(([row]) => ({
          present: new Set(
            [
              row?.sessions === true ? names.sessions : undefined,
              row?.messages === true ? names.messages : undefined,
              row?.operations === true ? names.operations : undefined
            ].filter((name): name is string => name !== undefined)
          ),
          sessionIdColumns: []
        }))
      ),
    mysql: () =>
      sql<{ table_name: string; collation_name: string | null; column_type: string | null }>`SELECT
          t.TABLE_NAME AS table_name, c.COLLATION_NAME AS collation_name, c.COLUMN_TYPE AS column_type
        FROM information_schema.TABLES t
        LEFT JOIN information_schema.COLUMNS c ON c.TABLE_SCHEMA = t.TABLE_SCHEMA
          AND c.TABLE_NAME = t.TABLE_NAME AND c.COLUMN_NAME = 'session_id'
        WHERE t.TABLE_SCHEMA = DATABASE() AND ${sql.in("t.TABLE_NAME", all)}`.pipe(
        Effect.map((rows) => ({
          present: new Set(rows.map((row) => String(row.table_name))),
          sessionIdColumns: rows.flatMap((row) =>
            row.column_type === null
              ? []
              : [{ table: String(row.table_name), collation: row.collation_name, columnType: String(row.column_type) }]
          )
        }))
      ),
    orElse: () =>
      sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' AND ${sql.in("name", all)}`.pipe(
        Effect.map((rows) => ({ present: new Set(rows.map((row) => row.name)), sessionIdColumns: [] }))
      )
  })
}

/** What to do about a missing table; also appended to an operation's error when the driver says so. */
export const MISSING_TABLE_ADVICE = "build the store with `createTables: true`, or run `SqlSessionStore.migrations()` " +
  "with your migrator"

interface ForeignKey {
  readonly name: string
  readonly table: string
  readonly onDelete: string
}

/** Our tables' foreign keys to the sessions table: MariaDB will not change their columns' collation. */
const foreignKeysToSessions = (sql: SqlClient.SqlClient, names: TableNames) =>
  sql<{ name: string; table_name: string; delete_rule: string }>`SELECT CONSTRAINT_NAME AS name,
      TABLE_NAME AS table_name, DELETE_RULE AS delete_rule
    FROM information_schema.REFERENTIAL_CONSTRAINTS
    WHERE CONSTRAINT_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME = ${names.sessions}
    AND ${sql.in("TABLE_NAME", [names.messages, names.operations])}`.pipe(
    Effect.map((rows): ReadonlyArray<ForeignKey> =>
      rows.map((row) => ({ name: String(row.name), table: String(row.table_name), onDelete: String(row.delete_rule) }))
    )
  )

const quote = (name: string) => `\`${name}\``

/**
 * The problem with the tables, in words, or `undefined` when the store can use them. Missing
 * tables are a problem only when they must exist (`requirePresent`). Only a collation problem
 * costs a second query (for the foreign keys its fix must drop and restore).
 */
export const tableProblem = (
  sql: SqlClient.SqlClient,
  names: TableNames,
  report: TableReport,
  requirePresent: boolean
): Effect.Effect<string | undefined, SqlError> => {
  const missing = [names.sessions, names.messages].filter((name) => !report.present.has(name))
  if (requirePresent && missing.length > 0) {
    return Effect.succeed(
      `table ${missing.map((name) => JSON.stringify(name)).join(" and ")} does not exist: ${MISSING_TABLE_ADVICE}`
    )
  }
  // A binary collation compares bytes; any other (utf8mb4_general_ci, the server default, or even
  // a case-sensitive UCA one) lets two different ids share one session: one user reads another's
  // history.
  const shared = report.sessionIdColumns.filter((column) =>
    column.collation !== null && !column.collation.toLowerCase().endsWith("_bin")
  )
  if (shared.length === 0) return Effect.succeed(undefined)
  return Effect.map(foreignKeysToSessions(sql, names), (keys) => {
    const script = [
      ...keys.map((key) => `ALTER TABLE ${quote(key.table)} DROP FOREIGN KEY ${quote(key.name)};`),
      ...report.sessionIdColumns.map((column) =>
        `ALTER TABLE ${
          quote(column.table)
        } MODIFY session_id ${column.columnType} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL;`
      ),
      ...keys.map((key) =>
        `ALTER TABLE ${quote(key.table)} ADD CONSTRAINT ${quote(key.name)} FOREIGN KEY (session_id) REFERENCES ${
          quote(names.sessions)
        } (session_id) ON DELETE ${key.onDelete};`
      )
    ]
    const columns = shared.map((column) => `table ${JSON.stringify(column.table)} uses collation ${column.collation}`)
    return `the session_id column of ${columns.join(", and of ")}, which treats different session ids ` +
      `(such as "Alice" and "alice") as one session, so one user could read another's history. ` +
      `Convert the columns to utf8mb4_bin (ids already merged must be told apart by hand first): ${script.join(" ")}`
  })
}

/** Whether a driver error says a table does not exist: PostgreSQL 42P01, MySQL 1146, SQLite. */
export const isMissingTable = (cause: unknown): boolean => {
  const error = cause as { code?: unknown; errno?: unknown; message?: unknown } | null
  if (error === null || typeof error !== "object") return false
  return error.code === "42P01" || error.errno === 1146 ||
    (typeof error.message === "string" && error.message.includes("no such table"))
}
