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
import type { Effect, Option } from "effect"

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
  }
>() {}
