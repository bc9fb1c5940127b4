/**
 * The session store service: durable conversation history for AI agents.
 *
 * A session is an ordered list of items (JSON objects, such as the `AgentInputItem`s of the
 * OpenAI Agents SDK). This module holds the service interface and its errors; the SQL backend is
 * in `SqlSessionStore`, the Promise face in `SqlSession`.
 *
 * @since 0.1.0
 */
import { Context, Schema } from "effect"
import type { Effect, Option, Stream } from "effect"

/**
 * One item of conversation history: a JSON object. The default schema also keeps
 * `Uint8Array` values inside it.
 *
 * @since 0.1.0
 */
export type Item = { readonly [key: string]: unknown }

/**
 * The database could not be reached or used. Carries the operation, the session id and the cause
 * (the driver's error); never a password.
 *
 * @since 0.1.0
 */
export class SessionStoreError extends Schema.TaggedError<SessionStoreError>()("SessionStoreError", {
  operation: Schema.String,
  sessionId: Schema.optional(Schema.String),
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

/**
 * An item that cannot be stored: the schema rejects it, or it does not survive JSON (BigInt,
 * cycles, functions, symbols, non-objects), or it is larger than `maxItemBytes`.
 *
 * @since 0.1.0
 */
export class InvalidItemError extends Schema.TaggedError<InvalidItemError>()("InvalidItemError", {
  /** Position of the offending item in the batch, when there is one. */
  index: Schema.optional(Schema.Number),
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

/**
 * An argument the store refuses before sending any SQL: a limit that is not an integer, a table
 * name that is not a plain identifier, a session id outside the allowed forms.
 *
 * @since 0.1.0
 */
export class InvalidArgumentError extends Schema.TaggedError<InvalidArgumentError>()("InvalidArgumentError", {
  argument: Schema.String,
  message: Schema.String
}) {}

/**
 * A history transaction that cannot be applied: its operation id was already used for a different
 * transaction, or the stored tail does not match its `expectedSuffix`. Nothing was changed.
 *
 * @since 0.1.0
 */
export class HistoryConflictError extends Schema.TaggedError<HistoryConflictError>()("HistoryConflictError", {
  sessionId: Schema.String,
  operationId: Schema.String,
  reason: Schema.Literal("operation_reused", "suffix_mismatch"),
  message: Schema.String
}) {}

/**
 * A call on a `SqlSession` or `SqlSessionPool` after `close()`.
 *
 * @since 0.1.0
 */
export class SessionClosedError extends Schema.TaggedError<SessionClosedError>()("SessionClosedError", {
  message: Schema.String
}) {}

/**
 * Append items to the history.
 *
 * @since 0.1.0
 */
export interface AppendItemsTransaction {
  readonly type: "append_items"
  readonly items: ReadonlyArray<Item>
}

/**
 * Replace the newest items, which must equal `expectedSuffix`, by `replacement`.
 *
 * @since 0.1.0
 */
export interface ReplaceSuffixTransaction {
  readonly type: "replace_suffix"
  readonly expectedSuffix: ReadonlyArray<Item>
  readonly replacement: ReadonlyArray<Item>
}

/**
 * An atomic, idempotent change of history (the Agents SDK's `SessionHistoryTransaction`).
 *
 * @since 0.1.0
 */
export type HistoryTransaction = AppendItemsTransaction | ReplaceSuffixTransaction

/**
 * Replace the first `function_call` with `callId` by `replacement`, dropping later duplicates
 * (the Agents SDK's `SessionHistoryMutation`).
 *
 * @since 0.1.0
 */
export interface ReplaceFunctionCallMutation {
  readonly type: "replace_function_call"
  readonly callId: string
  readonly replacement: Item
}

/**
 * @since 0.1.0
 */
export type HistoryMutation = ReplaceFunctionCallMutation

/**
 * An import that cannot go on: a line that is not a record of the export format (`malformed`), or
 * a session that already exists under `onConflict: "fail"` (`conflict`). Sessions imported before
 * it stay imported; the session being imported when it happened is rolled back.
 *
 * @since 0.2.0
 */
export class SessionImportError extends Schema.TaggedError<SessionImportError>()("SessionImportError", {
  reason: Schema.Literal("malformed", "conflict"),
  /** 1-based position of the offending line (or record) in the input. */
  line: Schema.optional(Schema.Number),
  sessionId: Schema.optional(Schema.String),
  message: Schema.String
}) {}

/**
 * A session's own JSON object of metadata. `{}` for sessions that never had any, including those
 * written by the Python SDK.
 *
 * @since 0.2.0
 */
export type SessionMetadata = { readonly [key: string]: unknown }

/**
 * What the catalogue knows about a session, besides its items.
 *
 * Dates are instants (UTC). SQLite stores them with second precision, MySQL/MariaDB and
 * PostgreSQL with microseconds (read back to the millisecond).
 *
 * @since 0.2.0
 */
export interface SessionInfo {
  readonly sessionId: string
  /** Who the session belongs to (a user or tenant id), or `null`. */
  readonly owner: string | null
  readonly title: string | null
  readonly metadata: SessionMetadata
  readonly createdAt: Date
  /** Touched by every write to the session's items and by `updateSession`. */
  readonly updatedAt: Date
  /** When retention may delete the session. Reads do not check it: expiry is enforced by pruning. */
  readonly expiresAt: Date | null
  /** Stored item rows, rows that fail to decode included. */
  readonly itemCount: number
}

/**
 * A change to a session's catalogue fields. A present field replaces the stored value
 * (`metadata` whole, never merged); an absent field is left as it is.
 *
 * @since 0.2.0
 */
export interface SessionPatch {
  /** At most 255 characters. */
  readonly owner?: string | null | undefined
  /** At most 1,000 characters. */
  readonly title?: string | null | undefined
  /** A JSON object of at most 64 KiB encoded. */
  readonly metadata?: SessionMetadata | undefined
  readonly expiresAt?: Date | null | undefined
}

/**
 * @since 0.2.0
 */
export interface ListSessionsOptions {
  /** Only this owner's sessions. */
  readonly owner?: string | undefined
  /** Only sessions updated strictly after this instant. */
  readonly updatedAfter?: Date | undefined
  /** Only sessions updated strictly before this instant. */
  readonly updatedBefore?: Date | undefined
  /** Page size: an integer from 1 to 1,000. Default 50. */
  readonly limit?: number | undefined
  /** `nextCursor` of the previous page, listed with the same filter. */
  readonly cursor?: string | undefined
}

/**
 * One page of `listSessions`: newest `updatedAt` first, ties by session id (descending).
 *
 * @since 0.2.0
 */
export interface SessionPage {
  readonly sessions: ReadonlyArray<SessionInfo>
  /** Pass it as `cursor` for the next page; `undefined` on the last page. */
  readonly nextCursor: string | undefined
}

/**
 * Which sessions `deleteSessions` removes: those matching every given condition. At least one
 * condition is required.
 *
 * @since 0.2.0
 */
export interface DeleteSessionsFilter {
  /** Only this owner's sessions (alone: all of them, for example to erase a user's data). */
  readonly owner?: string | undefined
  /** Only sessions whose `updatedAt` is strictly before this instant. */
  readonly idleBefore?: Date | undefined
  /** Only sessions whose `expiresAt` has passed (`true`). */
  readonly expired?: boolean | undefined
}

/**
 * Which sessions `exportSessions` writes: all of them, one owner's, or the listed ids (both: the
 * listed ids of that owner).
 *
 * @since 0.2.0
 */
export interface ExportSessionsOptions {
  readonly owner?: string | undefined
  readonly sessionIds?: ReadonlyArray<string> | undefined
}

/**
 * The version of the export format written by this release.
 *
 * @since 0.2.0
 */
export const EXPORT_FORMAT_VERSION = 1 as const

/**
 * The first record of a session in an export: its catalogue fields, dates as ISO 8601 strings.
 *
 * @since 0.2.0
 */
export interface SessionExportRecord {
  readonly type: "session"
  readonly version: typeof EXPORT_FORMAT_VERSION
  readonly sessionId: string
  readonly owner: string | null
  readonly title: string | null
  readonly metadata: SessionMetadata
  readonly createdAt: string
  readonly updatedAt: string
  readonly expiresAt: string | null
}

/**
 * One item of the session named by the preceding `session` record, oldest first. `data` is the
 * item exactly as stored (the text the store's schema encoded), so an export restores byte for
 * byte on any dialect, even with a custom (say, encrypting) schema.
 *
 * @since 0.2.0
 */
export interface ItemExportRecord {
  readonly type: "item"
  readonly version: typeof EXPORT_FORMAT_VERSION
  readonly sessionId: string
  readonly data: string
}

/**
 * A record of the export format: one JSON object per line (JSON Lines).
 *
 * @since 0.2.0
 */
export type ExportRecord = SessionExportRecord | ItemExportRecord

/**
 * What `importSessions` does with a session that already exists: `fail` stops the import with
 * `SessionImportError`, `skip` leaves it untouched, `replace` replaces its items and fields,
 * `append` appends the imported items after its own and keeps its fields.
 *
 * @since 0.2.0
 */
export interface ImportOptions {
  readonly onConflict: "fail" | "skip" | "replace" | "append"
}

/**
 * @since 0.2.0
 */
export interface ImportSummary {
  /** Sessions created, replaced or appended to. */
  readonly sessions: number
  /** Sessions left untouched by `onConflict: "skip"`. */
  readonly skipped: number
  /** Items written. */
  readonly items: number
}

/**
 * Every failure of `importSessions`, besides the input stream's own.
 *
 * @since 0.2.0
 */
export type ImportError = SessionStoreError | InvalidArgumentError | SessionImportError

/**
 * Every failure of a call that writes items.
 *
 * @since 0.1.0
 */
export type WriteError = SessionStoreError | InvalidItemError | InvalidArgumentError

/**
 * The session store.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SessionStore } from "effect-agent-sessions"
 *
 * const program = Effect.gen(function* () {
 *   const store = yield* SessionStore
 *   yield* store.addItems("user-42", [{ role: "user", content: "Hello" }])
 *   return yield* store.getItems("user-42", 10)
 * })
 * ```
 *
 * @since 0.1.0
 */
export class SessionStore extends Context.Tag("effect-agent-sessions/SessionStore")<
  SessionStore,
  {
    /**
     * The newest `limit` decodable items, oldest first (all items when `limit` is undefined).
     * A limit of 0 or less returns `[]`; a non-integer limit fails with `InvalidArgumentError`.
     * Rows that fail to decode are skipped, logged and counted, and do not count toward `limit`.
     */
    readonly getItems: (
      sessionId: string,
      limit?: number
    ) => Effect.Effect<ReadonlyArray<Item>, SessionStoreError | InvalidArgumentError>
    /** Appends a batch atomically; the batch stays contiguous under concurrent writers. */
    readonly addItems: (sessionId: string, items: ReadonlyArray<Item>) => Effect.Effect<void, WriteError>
    /**
     * Removes and returns the newest decodable item. Rows above it that look like JSON objects but
     * cannot be read are deleted on the way; rows the Python SDK can read are never deleted.
     */
    readonly popItem: (sessionId: string) => Effect.Effect<Option.Option<Item>, SessionStoreError | InvalidArgumentError>
    /** Deletes the session's items, its recorded operation ids and its session row. */
    readonly clearSession: (sessionId: string) => Effect.Effect<void, SessionStoreError | InvalidArgumentError>
    /**
     * Applies a history transaction once per `operationId`: the id is recorded in the same
     * database transaction as the change, so a retry from any process is a no-op.
     */
    readonly applyHistoryTransaction: (
      sessionId: string,
      args: { readonly operationId: string; readonly transaction: HistoryTransaction }
    ) => Effect.Effect<void, WriteError | HistoryConflictError>
    /** Applies `replace_function_call` mutations in one database transaction. */
    readonly applyHistoryMutations: (
      sessionId: string,
      args: { readonly mutations: ReadonlyArray<HistoryMutation> }
    ) => Effect.Effect<void, WriteError>
    /** Replaces the whole history in one database transaction (never a clear followed by adds). */
    readonly replaceHistory: (sessionId: string, items: ReadonlyArray<Item>) => Effect.Effect<void, WriteError>

    // The catalogue (since 0.2.0).

    /**
     * Sets the session's catalogue fields from `patch`, creating the session when missing, and
     * touches `updatedAt`. A present field replaces the stored value (`metadata` whole); an absent
     * field is left as it is.
     */
    readonly updateSession: (
      sessionId: string,
      patch: SessionPatch
    ) => Effect.Effect<void, SessionStoreError | InvalidArgumentError>
    /** The session's catalogue entry, or `None` when there is no such session. */
    readonly getSession: (
      sessionId: string
    ) => Effect.Effect<Option.Option<SessionInfo>, SessionStoreError | InvalidArgumentError>
    /**
     * One page of sessions, newest `updatedAt` first (ties by session id), by keyset pagination:
     * every page costs the same. A bad limit, or a cursor that is garbage or was made for another
     * filter, fails with `InvalidArgumentError`.
     */
    readonly listSessions: (
      options?: ListSessionsOptions
    ) => Effect.Effect<SessionPage, SessionStoreError | InvalidArgumentError>
    /**
     * Deletes the sessions matching every condition of `filter`, with their items and operation
     * ids, in bounded batches, and returns how many were deleted. Each session is re-checked
     * under its row lock, so one written to meanwhile (no longer idle) survives. Safe from many
     * processes at once.
     */
    readonly deleteSessions: (
      filter: DeleteSessionsFilter
    ) => Effect.Effect<number, SessionStoreError | InvalidArgumentError>
    /**
     * The sessions as export records, in session-id order: for each, a `session` record then its
     * items oldest first. Read in pages, so memory stays bounded whatever the size. Not a
     * snapshot: a write during the export may or may not be in it.
     */
    readonly exportSessions: (
      options?: ExportSessionsOptions
    ) => Stream.Stream<ExportRecord, SessionStoreError | InvalidArgumentError>
    /**
     * Imports export records (objects, or JSON Lines strings of one record each; blank lines are
     * ignored). Each session is imported in one transaction.
     */
    readonly importSessions: <E, R>(
      input: Stream.Stream<string | ExportRecord, E, R>,
      options: ImportOptions
    ) => Effect.Effect<ImportSummary, E | ImportError, R>
  }
>() {}
