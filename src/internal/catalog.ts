/**
 * The catalogue operations of the SQL store: session fields, listing, pruning, export and import.
 * Built once per store from the dialect's statements; the hot path never goes through here.
 */
import type { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Stream, type Tracer } from "effect"
import type { InvalidArgumentError, SessionStore, SessionStoreError } from "../SessionStore.js"
import type { TableNames } from "./statements.js"

export interface CatalogContext {
  readonly sql: SqlClient.SqlClient
  readonly names: TableNames
  readonly hasOperations: boolean
  readonly sessionIdError: (sessionId: string) => InvalidArgumentError | undefined
  readonly storeError: (operation: string, sessionId?: string) => (error: SqlError) => SessionStoreError
  /** The store's span-and-metrics wrapper of an operation. */
  readonly trace: (
    operation: CatalogOperation
  ) => <A, E extends { readonly _tag: string }, R>(
    body: (span: Tracer.Span) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E, R>
}

export type CatalogOperation =
  | "updateSession"
  | "getSession"
  | "listSessions"
  | "deleteSessions"
  | "exportSessions"
  | "importSessions"

export type Catalog = Pick<SessionStore["Type"], CatalogOperation>

const notYet = (name: string) => Effect.dieMessage(`SessionStore.${name} is not implemented yet`)

export const makeCatalog = (_context: CatalogContext): Effect.Effect<Catalog, SessionStoreError> =>
  Effect.succeed({
    updateSession: () => notYet("updateSession"),
    getSession: () => notYet("getSession"),
    listSessions: () => notYet("listSessions"),
    deleteSessions: () => notYet("deleteSessions"),
    exportSessions: () => Stream.fromEffect(notYet("exportSessions")),
    importSessions: () => notYet("importSessions")
  })
