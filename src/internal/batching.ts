/**
 * Natural batching wired to the store: the batch kinds (appends; newest-N reads on PostgreSQL;
 * pops on PostgreSQL and SQLite; clears on SQLite) over the combined statements, the options, and
 * the rule that a caller's own transaction runs unbatched.
 * See `batcher.ts` for the design and docs/batching.md for the guarantees.
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Context, Effect, Metric, Option, type Tracer } from "effect"
import * as SessionMetrics from "../SessionMetrics.js"
import { InvalidArgumentError } from "../SessionStore.js"
import {
  type AppendRequest,
  type ClearRequest,
  makeBatchStatements,
  type NewestRequest,
  rejectedByDatabase
} from "./batchStatements.js"
import { type BatchKind, makeBatcher } from "./batcher.js"
import type { MessageRow, Statements, TableNames } from "./statements.js"
import { underSpan } from "./tracing.js"

export interface BatchingOptions {
  readonly batching?: boolean | undefined
  readonly maxBatchSize?: number | undefined
  readonly batchConcurrency?: number | undefined
}

/** The default `maxBatchSize` (see docs/batching.md for the measurements behind it). */
export const DEFAULT_MAX_BATCH_SIZE = 64

/** A pool's size when the client does not say: the default of both `pg` and `mysql2`. */
const DEFAULT_POOL_SIZE = 10

/**
 * The default `batchConcurrency`. Few slots make big batches, and the store's cost is mostly client
 * CPU per statement: at 16 callers on a pool of 10, two slots cost about 150 µs of CPU per call
 * against 170-540 µs with ten (docs/batching.md).
 */
export const DEFAULT_BATCH_CONCURRENCY = 2

// A combined append stays well inside every dialect's limits (SQLite's 32,766 parameters at two a
// row, MariaDB's 16 MiB packet): at most about a million UTF-16 units of text (3 MiB of UTF-8 at
// worst) and 4,096 rows. A request heavier than that runs alone, through the single path.
const APPEND_BUDGET = 1024 * 1024
const ROW_WEIGHT = 256
// Reads: at most 10,000 rows in one combined result.
const READ_BUDGET = 10_000

export interface Batching {
  /** `appendMessages`, batched; interruptible while queued, uninterruptible once in flight. */
  readonly appendMessages: (
    sessionId: string,
    messages: ReadonlyArray<string>,
    span: Tracer.Span
  ) => Effect.Effect<void, SqlError>
  /** `selectNewest` whose first page is batched (later pages, past corrupt rows, run alone). */
  readonly selectNewest: (span: Tracer.Span) => Statements["selectNewest"]
  /** `deleteNewest`, batched; interruptible while queued, uninterruptible once in flight. */
  readonly deleteNewest: (sessionId: string, span: Tracer.Span) => Effect.Effect<Option.Option<string>, SqlError>
  /** `clearSession` (how many items it removed), batched; interruptible while queued, uninterruptible once in flight. */
  readonly clearSession: (request: ClearRequest, span: Tracer.Span) => Effect.Effect<number, SqlError>
}

/** The pool size of a `PgClient` or `MysqlClient` (both expose their config); one connection on SQLite. */
const poolSizeOf = (client: SqlClient.SqlClient): number =>
  client.onDialectOrElse({
    sqlite: () => 1,
    orElse: () => {
      const size = (client as { config?: { maxConnections?: unknown } }).config?.maxConnections
      return typeof size === "number" && Number.isSafeInteger(size) && size > 0 ? size : DEFAULT_POOL_SIZE
    }
  })

/** The error for invalid batching options, or `undefined`; synchronous, so `fromUrl` can throw it at once. */
export const batchingOptionsError = (options: BatchingOptions): InvalidArgumentError | undefined => {
  const enabled = options.batching ?? true
  const maxBatchSize = options.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE
  const concurrency = options.batchConcurrency
  const invalid = (argument: string, message: string) => new InvalidArgumentError({ argument, message })
  if (typeof enabled !== "boolean") return invalid("batching", `batching must be a boolean, got ${String(enabled)}`)
  if (!Number.isSafeInteger(maxBatchSize) || maxBatchSize <= 0) {
    return invalid("maxBatchSize", `maxBatchSize must be a positive integer, got ${String(maxBatchSize)}`)
  }
  if (concurrency !== undefined && (!Number.isSafeInteger(concurrency) || concurrency <= 0)) {
    return invalid("batchConcurrency", `batchConcurrency must be a positive integer, got ${String(concurrency)}`)
  }
  return undefined
}

export const makeBatching = (
  client: SqlClient.SqlClient,
  names: TableNames,
  statements: Statements,
  options: BatchingOptions
): Effect.Effect<Batching, InvalidArgumentError> => {
  const problem = batchingOptionsError(options)
  if (problem !== undefined) return Effect.fail(problem)
  const enabled = options.batching ?? true
  const maxBatchSize = options.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE
  const concurrency = options.batchConcurrency
  // Every statement runs under the calling operation's span (see `Parenting` in tracing.ts).
  const unbatched: Batching = {
    appendMessages: (sessionId, messages, span) =>
      underSpan(span)(Effect.uninterruptible(statements.appendMessages(sessionId, messages))),
    selectNewest: (span) => (sessionId, limit, beforeId) =>
      underSpan(span)(statements.selectNewest(sessionId, limit, beforeId)),
    deleteNewest: (sessionId, span) => underSpan(span)(Effect.uninterruptible(statements.deleteNewest(sessionId))),
    clearSession: ({ sessionId, withOperations }, span) =>
      underSpan(span)(Effect.uninterruptible(statements.clearSession(sessionId, withOperations)))
  }
  if (!enabled) return Effect.succeed(unbatched)

  const sql = client.withoutTransforms()
  const combined = makeBatchStatements(sql, names)
  const batcher = makeBatcher({
    // Never more slots than connections: a slot must never wait for one.
    slots: Math.min(concurrency ?? DEFAULT_BATCH_CONCURRENCY, poolSizeOf(client)),
    maxBatchSize,
    yieldFirst: client.onDialectOrElse({ sqlite: () => true, orElse: () => false })
  })

  const append: BatchKind<AppendRequest, void, SqlError> = {
    single: (request) => statements.appendMessages(request.sessionId, request.messages),
    combined: (requests) => Effect.as(combined.appendMany(requests), requests.map(() => undefined)),
    weight: (request) => request.messages.reduce((sum, text) => sum + text.length + ROW_WEIGHT, 0),
    // Never past what one statement may carry on this server (a small MariaDB max_allowed_packet):
    // weights count UTF-16 units, at most 3 bytes of UTF-8 each.
    budget: Math.min(APPEND_BUDGET, Math.floor(statements.limits.maxBytes / 3)),
    splittable: rejectedByDatabase,
    sizes: Metric.tagged(SessionMetrics.batchSize, "operation", "addItems")
  }
  const reads = combined.newest
  const newest: BatchKind<NewestRequest, ReadonlyArray<MessageRow>, SqlError> | undefined = reads && {
    single: (request) => statements.selectNewest(request.sessionId, request.limit, undefined),
    combined: reads.selectNewestMany,
    weight: (request) => request.limit,
    budget: READ_BUDGET,
    splittable: rejectedByDatabase,
    sizes: Metric.tagged(SessionMetrics.batchSize, "operation", "getItems")
  }

  const deleteNewestMany = combined.pop?.deleteNewestMany
  const pop: BatchKind<string, Option.Option<string>, SqlError> | undefined = deleteNewestMany && {
    single: statements.deleteNewest,
    // A row taken by a concurrent pop between snapshot and lock, or a newest row that is not object
    // text: that session pops again, alone, with the single pop.
    combined: (sessionIds) =>
      Effect.flatMap(deleteNewestMany(sessionIds), (results) =>
        Effect.forEach(results, (result, index) =>
          result.message_data === null && result.remaining
            ? statements.deleteNewest(sessionIds[index]!)
            : Effect.succeed(Option.fromNullable(result.message_data)))),
    weight: () => 1,
    budget: Number.MAX_SAFE_INTEGER,
    splittable: rejectedByDatabase,
    sizes: Metric.tagged(SessionMetrics.batchSize, "operation", "popItem"),
    // Two pops of one session in one statement would both see the same newest row.
    key: (sessionId) => sessionId
  }

  const clearMany = combined.clear?.clearMany
  const clear: BatchKind<ClearRequest, number, SqlError> | undefined = clearMany && {
    single: ({ sessionId, withOperations }) => statements.clearSession(sessionId, withOperations),
    // `withOperations` comes from the store's tables, so it is the same for every request.
    combined: (requests) =>
      clearMany(requests.map((request) => request.sessionId), requests.some((request) => request.withOperations)),
    weight: () => 1,
    budget: Number.MAX_SAFE_INTEGER,
    splittable: rejectedByDatabase,
    sizes: Metric.tagged(SessionMetrics.batchSize, "operation", "clearSession"),
    // A second clear of a session in the same statement would count nothing: it waits for the next.
    key: (request) => request.sessionId
  }

  // Inside the caller's `sql.withTransaction` every statement must run on the transaction's
  // connection, in the caller's order: no batching there. Read straight off the fiber, in one
  // step, as this runs on every call.
  const unlessInTransaction = <A, E>(
    inTransaction: () => Effect.Effect<A, E>,
    batched: () => Effect.Effect<A, E>
  ): Effect.Effect<A, E> =>
    Effect.withFiberRuntime((fiber) =>
      Context.getOption(
          fiber.currentContext as Context.Context<SqlClient.TransactionConnection>,
          SqlClient.TransactionConnection
        )._tag === "Some"
        ? inTransaction()
        : batched()
    )

  return Effect.succeed({
    appendMessages: (sessionId, messages, span) =>
      unlessInTransaction(
        () => unbatched.appendMessages(sessionId, messages, span),
        () => batcher.run(append, { sessionId, messages }, span)
      ),
    selectNewest: newest === undefined ? unbatched.selectNewest : (span) => (sessionId, limit, beforeId) =>
      beforeId !== undefined
        ? unbatched.selectNewest(span)(sessionId, limit, beforeId)
        : unlessInTransaction(
          () => unbatched.selectNewest(span)(sessionId, limit, undefined),
          () => batcher.run(newest, { sessionId, limit }, span)
        ),
    deleteNewest: pop === undefined ? unbatched.deleteNewest : (sessionId, span) =>
      unlessInTransaction(
        () => unbatched.deleteNewest(sessionId, span),
        () => batcher.run(pop, sessionId, span)
      ),
    clearSession: clear === undefined ? unbatched.clearSession : (request, span) =>
      unlessInTransaction(
        () => unbatched.clearSession(request, span),
        () => batcher.run(clear, request, span)
      )
  })
}
