/**
 * The catalogue's SQL, one set per dialect: the upgrade of existing tables and the statements of
 * the catalogue operations.
 */
import type { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"
import type { TableNames } from "./statements.js"

/** Adds the catalogue columns and indexes where missing. Idempotent, safe from several processes. */
export const upgradeCatalog = (_sql: SqlClient.SqlClient, _names: TableNames): Effect.Effect<void, SqlError> =>
  Effect.dieMessage("upgradeCatalog is not implemented yet")
