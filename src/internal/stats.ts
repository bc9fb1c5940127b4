/**
 * Aggregate figures about the stored sessions, for `agent-sessions stats` and export progress.
 * One statement per figure group, per dialect; identifiers quoted, values bound.
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"
import type { TableNames } from "./statements.js"

export interface OwnerCount {
  readonly owner: string
  readonly sessions: number
}

export interface SessionStats {
  readonly sessions: number
  readonly items: number
  /** Encoded size of the stored items, in bytes (UTF-8). */
  readonly bytes: number
  /** The earliest `createdAt`, or `null` when there are no sessions. */
  readonly oldest: Date | null
  /** The latest `updatedAt`, or `null` when there are no sessions. */
  readonly newest: Date | null
  /** Owners with the most sessions, most first (ties by owner); sessions without an owner are left out. */
  readonly topOwners: ReadonlyArray<OwnerCount>
}

export interface StatsOptions {
  /** Only this owner's sessions. */
  readonly owner?: string | undefined
  /** How many owners `topOwners` lists. Default 5. */
  readonly topOwners?: number | undefined
}

// SQLite hands back its CURRENT_TIMESTAMP text ("YYYY-MM-DD HH:MM:SS", UTC); the others a Date.
const toDate = (value: unknown): Date | null => {
  if (value === null || value === undefined) return null
  if (value instanceof Date) return value
  const text = String(value)
  return new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text : `${text.replace(" ", "T")}Z`)
}

/** The figures for `names`' tables over the `SqlClient` in context. */
export const sessionStats = (
  names: TableNames,
  options: StatsOptions = {}
): Effect.Effect<SessionStats, SqlError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    const sessions = sql(names.sessions)
    const messages = sql(names.messages)
    const owner = options.owner
    const top = options.topOwners ?? 5
    // Bytes, not characters: LENGTH counts characters on pg and SQLite.
    const byteLength = sql.onDialectOrElse({
      pg: () => sql`octet_length(m.message_data)`,
      mysql: () => sql`LENGTH(m.message_data)`,
      orElse: () => sql`LENGTH(CAST(m.message_data AS BLOB))`
    })
    const ownedBy = (column: string) => owner === undefined ? sql`1 = 1` : sql`${sql(column)} = ${owner}`

    const [sessionRow] = yield* sql<{ sessions: number | string; oldest: unknown; newest: unknown }>`
      SELECT COUNT(*) AS sessions, MIN(created_at) AS oldest, MAX(updated_at) AS newest
      FROM ${sessions} WHERE ${ownedBy("owner")}`
    const [itemRow] = owner === undefined
      ? yield* sql<{ items: number | string; bytes: number | string | null }>`
          SELECT COUNT(*) AS items, SUM(${byteLength}) AS bytes FROM ${messages} m`
      : yield* sql<{ items: number | string; bytes: number | string | null }>`
          SELECT COUNT(*) AS items, SUM(${byteLength}) AS bytes
          FROM ${messages} m JOIN ${sessions} s ON s.session_id = m.session_id WHERE s.owner = ${owner}`
    const owners = yield* sql<{ owner: string; sessions: number | string }>`
      SELECT owner, COUNT(*) AS sessions FROM ${sessions}
      WHERE owner IS NOT NULL AND ${ownedBy("owner")}
      GROUP BY owner ORDER BY COUNT(*) DESC, owner ASC LIMIT ${top}`

    return {
      sessions: Number(sessionRow?.sessions ?? 0),
      items: Number(itemRow?.items ?? 0),
      bytes: Number(itemRow?.bytes ?? 0),
      oldest: toDate(sessionRow?.oldest),
      newest: toDate(sessionRow?.newest),
      topOwners: owners.map((row) => ({ owner: row.owner, sessions: Number(row.sessions) }))
    }
  })
