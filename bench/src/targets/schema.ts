/**
 * DDL for the tables the floor and the Python pattern write to. Both follow the
 * Python SDK's layout (sessions + messages with a JSON text column); the floor
 * indexes `(session_id, id)` like our store, the Python pattern `(session_id,
 * created_at)` like `SQLAlchemySession`.
 */
export type SqlDialect = "pg" | "mysql" | "sqlite"

export interface TableNames {
  readonly sessions: string
  readonly messages: string
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/

export const tableNames = (prefix: string): TableNames => {
  const names = { sessions: `${prefix}sessions`, messages: `${prefix}messages` }
  for (const name of Object.values(names)) {
    if (!IDENT.test(name)) throw new Error(`bad table name ${name}`)
  }
  return names
}

export const createTableStatements = (
  dialect: SqlDialect,
  t: TableNames,
  index: "id" | "created_at"
): Array<string> => {
  const indexName = `${t.messages}_session_${index === "id" ? "id" : "time"}_idx`
  // Column types as our store's DDL (src/internal/statements.ts), so the floor differs only in code.
  switch (dialect) {
    case "pg":
      return [
        `CREATE TABLE IF NOT EXISTS ${t.sessions} (session_id VARCHAR(255) NOT NULL PRIMARY KEY, created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)`,
        `CREATE TABLE IF NOT EXISTS ${t.messages} (id BIGSERIAL NOT NULL PRIMARY KEY, session_id VARCHAR(255) NOT NULL REFERENCES ${t.sessions} (session_id) ON DELETE CASCADE, message_data TEXT NOT NULL, created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)`,
        `CREATE INDEX IF NOT EXISTS ${indexName} ON ${t.messages} (session_id, ${index})`
      ]
    case "mysql":
      return [
        `CREATE TABLE IF NOT EXISTS ${t.sessions} (session_id VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL PRIMARY KEY, created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
        `CREATE TABLE IF NOT EXISTS ${t.messages} (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, session_id VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL, message_data LONGTEXT CHARACTER SET utf8mb4 NOT NULL, created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), INDEX ${indexName} (session_id, ${index}), FOREIGN KEY (session_id) REFERENCES ${t.sessions} (session_id) ON DELETE CASCADE) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`
      ]
    case "sqlite":
      return [
        `CREATE TABLE IF NOT EXISTS ${t.sessions} (session_id VARCHAR(255) NOT NULL PRIMARY KEY, created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)`,
        `CREATE TABLE IF NOT EXISTS ${t.messages} (id INTEGER PRIMARY KEY AUTOINCREMENT, session_id VARCHAR(255) NOT NULL REFERENCES ${t.sessions} (session_id) ON DELETE CASCADE, message_data TEXT NOT NULL, created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)`,
        `CREATE INDEX IF NOT EXISTS ${indexName} ON ${t.messages} (session_id, ${index})`
      ]
  }
}

export const dropTableStatements = (t: TableNames): Array<string> => [
  `DROP TABLE IF EXISTS ${t.messages}`,
  `DROP TABLE IF EXISTS ${t.sessions}`
]

/** `($1, $2), ($1, $3), ...` for pg, with the session id as `$1`. */
export const pgValues = (count: number): string =>
  Array.from({ length: count }, (_, i) => `($1, $${i + 2})`).join(", ")

/** `(?, ?), (?, ?), ...` for mysql2 and better-sqlite3. */
export const qValues = (count: number): string => Array.from({ length: count }, () => "(?, ?)").join(", ")

export const interleave = (sessionId: string, rows: ReadonlyArray<string>): Array<string> =>
  rows.flatMap((row) => [sessionId, row])

export const parseRows = (rows: ReadonlyArray<Record<string, unknown>>): Array<unknown> =>
  rows.map((row) => JSON.parse(String(row["message_data"])))
