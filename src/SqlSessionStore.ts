/**
 * The SQL backend of `SessionStore`, for PostgreSQL, MySQL/MariaDB and SQLite through
 * `@effect/sql`. The dialect is whichever `SqlClient` the application provides.
 *
 * @since 0.1.0
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Config, Effect, Either, Layer, Metric, Option, ParseResult, Redacted, Schema, type Tracer } from "effect"
import type { ConfigError } from "effect/ConfigError"
import { createHash } from "node:crypto"
import { makeCatalog } from "./internal/catalog.js"
import { upgradeCatalog } from "./internal/catalogStatements.js"
import * as Retention from "./internal/retention.js"
import { clientLayer, type ConnectionOptions } from "./internal/clientLayer.js"
import { canonicalJson, decodeItem, encodeItem } from "./internal/json.js"
import { retryTransient } from "./internal/retry.js"
import { parseDatabaseUrl } from "./internal/url.js"
import {
  detectFeatures,
  makeStatements,
  type MessageRow,
  type Statements,
  type TableNames,
  transactionOf
} from "./internal/statements.js"
import {
  mysqlSessionIdProblem,
  sessionIdProblem,
  limitError,
  sessionIdErrorWith,
  validateTableName
} from "./internal/validation.js"
import { ItemFromJson } from "./ItemSchema.js"
import * as SessionMetrics from "./SessionMetrics.js"
import {
  type HistoryMutation,
  type HistoryTransaction,
  HistoryConflictError,
  InvalidArgumentError,
  InvalidItemError,
  type Item,
  SessionStore,
  SessionStoreError
} from "./SessionStore.js"

/**
 * @since 0.1.0
 */
export interface SqlSessionStoreOptions {
  /** Create the tables and index when missing (idempotent, safe from many processes). Default `false`. */
  readonly createTables?: boolean | undefined
  /** Default `agent_sessions`, as in the Python SDK. */
  readonly sessionsTable?: string | undefined
  /** Default `agent_messages`, as in the Python SDK. */
  readonly messagesTable?: string | undefined
  /** Where applied history-transaction ids are recorded. Default `agent_session_operations`. */
  readonly operationsTable?: string | undefined
  /** From the stored text to an item. Default `ItemFromJson`. */
  readonly schema?: Schema.Schema<Item, string> | undefined
  /** Largest encoded item, in UTF-8 bytes. Default 8 MiB. */
  readonly maxItemBytes?: number | undefined
}

/**
 * The default `maxItemBytes`: 8 MiB, comfortably below MariaDB's default 16 MiB packet limit.
 *
 * @since 0.1.0
 */
export const DEFAULT_MAX_ITEM_BYTES = 8 * 1024 * 1024

/**
 * @since 0.1.0
 */
export const defaultTableNames: TableNames = {
  sessions: "agent_sessions",
  messages: "agent_messages",
  operations: "agent_session_operations"
}

const resolveTableNames = (options: SqlSessionStoreOptions) =>
  Effect.all({
    sessions: validateTableName("sessionsTable", options.sessionsTable ?? defaultTableNames.sessions),
    messages: validateTableName("messagesTable", options.messagesTable ?? defaultTableNames.messages),
    operations: validateTableName("operationsTable", options.operationsTable ?? defaultTableNames.operations)
  })

const storeError = (operation: string, sessionId?: string) => (error: SqlError): SessionStoreError => {
  const cause = error.cause ?? error
  const detail = cause instanceof Error ? cause.message : String(cause)
  return new SessionStoreError({
    operation,
    sessionId,
    message: `${operation} failed${sessionId === undefined ? "" : ` for session ${JSON.stringify(sessionId)}`}: ${
      detail || error.message
    }`,
    cause
  })
}

const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex")

type OperationName = keyof SessionStore["Type"]

/**
 * Runs an operation in its `SessionStore.<operation>` span and counts the call and its failure,
 * tagged by operation. Like `Effect.fn`, minus the call-site stack capture (about 20 µs a call,
 * measured); the body gets the span, so attributes cost no extra effects. The tagged counters
 * are built once, not on every call.
 */
const traced = (operation: OperationName) => {
  const spanName = `SessionStore.${operation}`
  const started = Metric.tagged(SessionMetrics.operations, "operation", operation)
  const failed = Metric.tagged(SessionMetrics.failures, "operation", operation)
  const failedBy = new Map<string, Metric.Metric.Counter<number>>()
  const failureCounter = (tag: string) => {
    let counter = failedBy.get(tag)
    if (counter === undefined) {
      counter = Metric.tagged(failed, "error", tag)
      failedBy.set(tag, counter)
    }
    return counter
  }
  const countFailure = (error: { readonly _tag: string }) => Metric.increment(failureCounter(error._tag))
  // Generic over the body's effect, so a body may return different effects on different paths.
  return <Body extends Effect.Effect<any, { readonly _tag: string }, any>>(
    body: (span: Tracer.Span) => Body
  ): Effect.Effect<Effect.Effect.Success<Body>, Effect.Effect.Error<Body>, Effect.Effect.Context<Body>> =>
    Effect.useSpan(spanName, { captureStackTrace: false }, (span) =>
      Metric.increment(started).pipe(
        Effect.zipRight(Effect.withParentSpan(Effect.suspend(() => body(span)), span)),
        Effect.tapError(countFailure)
      )) as Effect.Effect<Effect.Effect.Success<Body>, Effect.Effect.Error<Body>, Effect.Effect.Context<Body>>
}

/**
 * Builds a `SessionStore` on the `SqlClient` in context. Table names are validated and every
 * dialect-specific statement is chosen here, once.
 *
 * @since 0.1.0
 */
export const make = (
  options: SqlSessionStoreOptions = {}
): Effect.Effect<SessionStore["Type"], InvalidArgumentError | SessionStoreError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const names = yield* resolveTableNames(options)
    const maxItemBytes = options.maxItemBytes ?? DEFAULT_MAX_ITEM_BYTES
    if (!Number.isSafeInteger(maxItemBytes) || maxItemBytes <= 0) {
      return yield* new InvalidArgumentError({
        argument: "maxItemBytes",
        message: `maxItemBytes must be a positive integer, got ${maxItemBytes}`
      })
    }
    // A user's name transforms (camelCase and the like) must not rename our columns.
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    const features = yield* detectFeatures(sql).pipe(Effect.mapError(storeError("connect")))
    const statements: Statements = makeStatements(sql, names, features)
    const transaction = transactionOf(sql)
    const sessionIdError = sessionIdErrorWith(
      sql.onDialectOrElse({ mysql: () => mysqlSessionIdProblem, orElse: () => sessionIdProblem })
    )
    if (options.createTables === true) {
      yield* statements.createTables.pipe(
        Effect.zipRight(upgradeCatalog(sql, names)),
        retryTransient("createTables"),
        Effect.mapError(storeError("createTables"))
      )
    }
    // On tables made by the Python SDK there is no operations table until migrations add it.
    const hasOperations = yield* statements.hasOperationsTable.pipe(Effect.mapError(storeError("connect")))
    const catalog = yield* makeCatalog({
      sql,
      names,
      statements,
      hasOperations,
      maxItemBytes,
      sessionIdError,
      storeError,
      trace: traced
    })

    // Built once: each carries its own tagged retry counter and its tagged operation counters.
    const retry = {
      getItems: retryTransient("getItems"),
      addItems: retryTransient("addItems"),
      popItem: retryTransient("popItem"),
      clearSession: retryTransient("clearSession"),
      applyHistoryTransaction: retryTransient("applyHistoryTransaction"),
      applyHistoryMutations: retryTransient("applyHistoryMutations"),
      replaceHistory: retryTransient("replaceHistory")
    }
    const trace = {
      getItems: traced("getItems"),
      addItems: traced("addItems"),
      popItem: traced("popItem"),
      clearSession: traced("clearSession"),
      applyHistoryTransaction: traced("applyHistoryTransaction"),
      applyHistoryMutations: traced("applyHistoryMutations"),
      replaceHistory: traced("replaceHistory")
    }

    const schema = options.schema ?? ItemFromJson
    const codec = makeCodec(schema, maxItemBytes)

    // The four session operations below are the hot path: a handful of effects around one
    // statement, with no generator, so the store's own cost stays small next to the round trip.

    /** Decodes rows in order; a row that fails to decode is `undefined`, logged and counted. */
    const decodeRows = (
      rows: ReadonlyArray<MessageRow>,
      sessionId: string,
      operation: string
    ): Effect.Effect<Array<Item | undefined>> =>
      Effect.flatMap(codec.decodeAll(rows.map((row) => row.message_data)), (results) => {
        const items = results.map((result) => Either.getOrUndefined(result))
        return results.some(Either.isLeft)
          ? Effect.as(reportCorrupt(rows, results, sessionId, operation), items)
          : Effect.succeed(items)
      })

    const reportCorrupt = (
      rows: ReadonlyArray<MessageRow>,
      results: ReadonlyArray<Either.Either<Item, string>>,
      sessionId: string,
      operation: string
    ): Effect.Effect<void> => {
      const failures = results.flatMap((result, index) =>
        Either.isLeft(result) ? [{ row: rows[index]!, reason: result.left }] : []
      )
      const logFailure = ({ reason, row }: (typeof failures)[number]) =>
        Effect.logWarning(`${operation}: skipped a stored row that failed to decode`).pipe(
          Effect.annotateLogs({ sessionId, rowId: String(row.id), reason })
        )
      return Effect.forEach(failures, logFailure, { discard: true }).pipe(
        Effect.zipRight(
          Metric.incrementBy(Metric.tagged(SessionMetrics.corruptRows, "operation", operation), failures.length)
        ),
        Effect.zipRight(Effect.annotateCurrentSpan("session.corrupt_rows", failures.length))
      )
    }

    const decodable = (items: ReadonlyArray<Item | undefined>): Array<Item> =>
      items.filter((item): item is Item => item !== undefined)

    /** The newest `limit` decodable items, newest first, paging past corrupt rows. */
    const readNewest = (
      sessionId: string,
      limit: number,
      select: Statements["selectNewest"],
      operation: string
    ): Effect.Effect<{ items: Array<Item>; rows: Array<MessageRow> }, SqlError> =>
      Effect.suspend(() => {
        // Fresh per run: a retry starts over.
        const items: Array<Item> = []
        const rows: Array<MessageRow> = []
        const readPage = (beforeId: string | number | undefined): Effect.Effect<typeof result, SqlError> => {
          const want = limit - items.length
          return Effect.flatMap(select(sessionId, want, beforeId), (page) =>
            Effect.flatMap(decodeRows(page, sessionId, operation), (decoded) => {
              decoded.forEach((item, index) => {
                if (item === undefined) return
                items.push(item)
                rows.push(page[index]!)
              })
              return items.length < limit && page.length === want
                ? readPage(page[page.length - 1]!.id)
                : Effect.succeed(result)
            }))
        }
        const result = { items, rows }
        return readPage(undefined)
      })

    const getItems = (sessionId: string, limit?: number) =>
      trace.getItems((span) => {
        const invalid = sessionIdError(sessionId) ?? limitError(limit)
        if (invalid !== undefined) return Effect.fail(invalid)
        span.attribute("session.id", sessionId)
        span.attribute("session.limit", limit ?? "all")
        if (limit !== undefined && limit <= 0) return Effect.succeed<ReadonlyArray<Item>>([])
        const read = limit === undefined
          ? Effect.flatMap(statements.selectAll(sessionId), (rows) =>
            Effect.map(decodeRows(rows, sessionId, "getItems"), decodable))
          : Effect.map(readNewest(sessionId, limit, statements.selectNewest, "getItems"), ({ items }) => items.reverse())
        return read.pipe(
          retry.getItems,
          Effect.mapError(storeError("getItems", sessionId)),
          Effect.map((items): ReadonlyArray<Item> => {
            span.attribute("session.items", items.length)
            return items
          })
        )
      })

    const addItems = (sessionId: string, items: ReadonlyArray<Item>) =>
      trace.addItems((span) => {
        const invalid = sessionIdError(sessionId)
        if (invalid !== undefined) return Effect.fail(invalid)
        span.attribute("session.id", sessionId)
        if (Array.isArray(items)) span.attribute("session.items", items.length)
        return Effect.flatMap(codec.encodeAll(items), (encoded) => {
          if (encoded.length === 0) return Effect.void
          return statements.appendMessages(sessionId, encoded).pipe(
            retry.addItems,
            Effect.mapError(storeError("addItems", sessionId)),
            Effect.uninterruptible
          )
        })
      })

    const popItem = (sessionId: string) =>
      trace.popItem((span) => {
        const invalid = sessionIdError(sessionId)
        if (invalid !== undefined) return Effect.fail(invalid)
        span.attribute("session.id", sessionId)
        const pop = statements.deleteNewest(sessionId).pipe(
          retry.popItem,
          Effect.mapError(storeError("popItem", sessionId)),
          Effect.uninterruptible
        )
        // Corrupt rows above the newest decodable item are deleted on the way down.
        const popDecodable: Effect.Effect<Option.Option<Item>, SessionStoreError> = Effect.flatMap(pop, (popped) => {
          if (Option.isNone(popped)) {
            span.attribute("session.items", 0)
            return Effect.succeedNone
          }
          return Effect.flatMap(
            decodeRows([{ id: "popped", message_data: popped.value }], sessionId, "popItem"),
            ([item]) => {
              if (item === undefined) return popDecodable
              span.attribute("session.items", 1)
              return Effect.succeedSome(item)
            }
          )
        })
        return popDecodable
      })

    const clearSession = (sessionId: string) =>
      trace.clearSession((span) => {
        const invalid = sessionIdError(sessionId)
        if (invalid !== undefined) return Effect.fail(invalid)
        span.attribute("session.id", sessionId)
        return statements.clearSession(sessionId, hasOperations).pipe(
          retry.clearSession,
          Effect.mapError(storeError("clearSession", sessionId)),
          Effect.uninterruptible,
          Effect.map((removed) => {
            span.attribute("session.items", removed)
          })
        )
      })

    /** Runs `body` in one transaction, retried as a whole on transient failures. */
    const inTransaction = <A, E extends { readonly _tag: string }>(
      operation: keyof typeof retry,
      sessionId: string,
      body: Effect.Effect<A, E | SqlError>
    ): Effect.Effect<A, Exclude<E, SqlError> | SessionStoreError> =>
      transaction(body).pipe(
        retry[operation],
        Effect.catchIf(
          (error): error is SqlError => error._tag === "SqlError",
          (error) => Effect.fail(storeError(operation, sessionId)(error))
        ),
        Effect.uninterruptible
      ) as Effect.Effect<A, Exclude<E, SqlError> | SessionStoreError>

    const requireOperationsTable = (operation: string, sessionId: string) =>
      hasOperations
        ? Effect.void
        : Effect.fail(
          new SessionStoreError({
            operation,
            sessionId,
            message: `${operation} needs the table ${JSON.stringify(names.operations)}: run the migrations ` +
              "(SqlSessionStore.migrations) or build the store with createTables: true"
          })
        )

    const checkSessionId = (sessionId: string): Effect.Effect<void, InvalidArgumentError> => {
      const invalid = sessionIdError(sessionId)
      return invalid === undefined ? Effect.void : Effect.fail(invalid)
    }

    const applyHistoryTransaction = (
      sessionId: string,
      args: { readonly operationId: string; readonly transaction: HistoryTransaction }
    ) =>
      trace.applyHistoryTransaction(() =>
        Effect.gen(function*() {
          yield* checkSessionId(sessionId)
          const { operationId, transaction } = yield* validateTransaction(args)
          yield* Effect.annotateCurrentSpan({ "session.id": sessionId, "session.transaction": transaction.type })
          yield* requireOperationsTable("applyHistoryTransaction", sessionId)
          const fingerprint = yield* transactionFingerprint(transaction)
          const operationKey = sha256(operationId)
          const appended = yield* codec.encodeAll(
            transaction.type === "append_items" ? transaction.items : transaction.replacement
          )
          const expected = transaction.type === "replace_suffix"
            ? transaction.expectedSuffix.map((item) => canonicalJson(item))
            : []

          const conflict = (reason: "operation_reused" | "suffix_mismatch") =>
            new HistoryConflictError({
              sessionId,
              operationId,
              reason,
              message: reason === "operation_reused"
                ? "Session history operation was already applied with a different transaction."
                : "Session history suffix no longer matches the transaction precondition."
            })

          yield* inTransaction(
            "applyHistoryTransaction",
            sessionId,
            Effect.gen(function*() {
              yield* statements.lockSession(sessionId)
              const applied = yield* statements.findOperation(sessionId, operationKey)
              if (Option.isSome(applied)) {
                if (applied.value === fingerprint) return
                return yield* conflict("operation_reused")
              }
              if (expected.length > 0) {
                const { items, rows } = yield* readNewest(
                  sessionId,
                  expected.length,
                  statements.selectNewestForUpdate,
                  "applyHistoryTransaction"
                )
                const actual = items.reverse().map((item) => safeCanonical(item))
                if (actual.length < expected.length || actual.some((text, index) => text !== expected[index])) {
                  return yield* conflict("suffix_mismatch")
                }
                yield* statements.deleteFrom(sessionId, rows[rows.length - 1]!.id)
              }
              yield* statements.insertMessages(sessionId, appended)
              yield* statements.insertOperation(sessionId, operationKey, fingerprint)
            })
          )
        })
      )

    const applyHistoryMutations = (sessionId: string, args: { readonly mutations: ReadonlyArray<HistoryMutation> }) =>
      trace.applyHistoryMutations(() =>
        Effect.gen(function*() {
          yield* checkSessionId(sessionId)
          const mutations = yield* validateMutations(args)
          yield* Effect.annotateCurrentSpan({ "session.id": sessionId, "session.mutations": mutations.length })
          if (mutations.length === 0) return
          const replacements = yield* codec.encodeAll(mutations.map((mutation) => mutation.replacement))
          yield* inTransaction(
            "applyHistoryMutations",
            sessionId,
            Effect.gen(function*() {
              if (!(yield* statements.lockExistingSession(sessionId))) return
              const rows = yield* statements.selectAllForUpdate(sessionId)
              const decoded = yield* decodeRows(rows, sessionId, "applyHistoryMutations")
              const live = rows.map((row, index) => ({ id: row.id, item: decoded[index] }))
              const updates = new Map<string | number, string>()
              const deletions: Array<string | number> = []
              mutations.forEach((mutation, index) => {
                let replaced = false
                for (const entry of live) {
                  const item = entry.item
                  if (item?.type !== "function_call" || item.callId !== mutation.callId) continue
                  if (!replaced) {
                    entry.item = mutation.replacement
                    updates.set(entry.id, replacements[index]!)
                    replaced = true
                  } else {
                    entry.item = undefined
                    updates.delete(entry.id)
                    deletions.push(entry.id)
                  }
                }
              })
              for (const [id, data] of updates) yield* statements.updateMessage(id, data)
              yield* statements.deleteIds(deletions)
            })
          )
        })
      )

    const replaceHistory = (sessionId: string, items: ReadonlyArray<Item>) =>
      trace.replaceHistory(() =>
        Effect.gen(function*() {
          yield* checkSessionId(sessionId)
          yield* Effect.annotateCurrentSpan({
            "session.id": sessionId,
            "session.items": Array.isArray(items) ? items.length : 0
          })
          const encoded = yield* codec.encodeAll(items)
          yield* inTransaction(
            "replaceHistory",
            sessionId,
            Effect.gen(function*() {
              if (encoded.length === 0) {
                if (yield* statements.lockExistingSession(sessionId)) yield* statements.deleteAllMessages(sessionId)
                return
              }
              yield* statements.lockSession(sessionId)
              yield* statements.deleteAllMessages(sessionId)
              yield* statements.insertMessages(sessionId, encoded)
            })
          )
        })
      )

    return SessionStore.of({
      getItems,
      addItems,
      popItem,
      clearSession,
      applyHistoryTransaction,
      applyHistoryMutations,
      replaceHistory,
      ...catalog
    })
  })

/** Encoding and decoding through the schema, with a synchronous path for the default one. */
const makeCodec = (schema: Schema.Schema<Item, string>, maxItemBytes: number) => {
  const formatError = (error: ParseResult.ParseError) => ParseResult.TreeFormatter.formatErrorSync(error)
  const isDefault = schema === ItemFromJson
  const decodeWithSchema = Schema.decodeUnknown(schema)
  const encodeWithSchema = Schema.encode(schema)

  const decodeAll = (texts: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<Either.Either<Item, string>>> =>
    isDefault
      ? Effect.sync(() =>
        texts.map((text) => {
          try {
            return Either.right(decodeItem(text))
          } catch (error) {
            return Either.left((error as Error).message)
          }
        })
      )
      : Effect.forEach(texts, (text) => Effect.either(Effect.mapError(decodeWithSchema(text), formatError)))

  const unstorable = (index: number, reason: string, cause: unknown) =>
    new InvalidItemError({ index, message: `item ${index} cannot be stored: ${reason}`, cause })

  const encodeOne = (item: Item, index: number): Effect.Effect<string, InvalidItemError> =>
    Effect.mapError(encodeWithSchema(item), (error) => unstorable(index, formatError(error), error))

  const sizeError = (text: string, index: number): InvalidItemError | undefined => {
    // A UTF-8 byte is at most 3 per UTF-16 unit: most items need no byte count at all.
    if (text.length * 3 <= maxItemBytes) return undefined
    const bytes = Buffer.byteLength(text, "utf8")
    return bytes <= maxItemBytes ? undefined : new InvalidItemError({
      index,
      message: `item ${index} is ${bytes} bytes encoded, over maxItemBytes (${maxItemBytes})`
    })
  }

  const checkSize = (text: string, index: number): Effect.Effect<string, InvalidItemError> => {
    const tooLarge = sizeError(text, index)
    return tooLarge === undefined ? Effect.succeed(text) : Effect.fail(tooLarge)
  }

  const encodeAll = (items: ReadonlyArray<Item>): Effect.Effect<ReadonlyArray<string>, InvalidItemError> => {
    if (!Array.isArray(items)) return Effect.fail(new InvalidItemError({ message: "items must be an array" }))
    if (!isDefault) {
      return Effect.forEach(items, (item, index) => Effect.flatMap(encodeOne(item, index), (text) => checkSize(text, index)))
    }
    // The default codec is synchronous: one effect for the whole batch, whatever its size.
    return Effect.suspend(() => {
      const texts: Array<string> = []
      for (let index = 0; index < items.length; index++) {
        let text: string
        try {
          text = encodeItem(items[index])
        } catch (error) {
          return Effect.fail(unstorable(index, (error as Error).message, error))
        }
        const tooLarge = sizeError(text, index)
        if (tooLarge !== undefined) return Effect.fail(tooLarge)
        texts.push(text)
      }
      return Effect.succeed(texts)
    })
  }

  return { decodeAll, encodeAll }
}

const safeCanonical = (item: Item): string | undefined => {
  try {
    return canonicalJson(item)
  } catch {
    return undefined
  }
}

const transactionFingerprint = (transaction: HistoryTransaction): Effect.Effect<string, InvalidItemError> =>
  Effect.try({
    try: () =>
      sha256(
        transaction.type === "append_items"
          ? canonicalJson({ type: transaction.type, items: transaction.items })
          : canonicalJson({
            type: transaction.type,
            expectedSuffix: transaction.expectedSuffix,
            replacement: transaction.replacement
          })
      ),
    catch: (error) =>
      new InvalidItemError({ message: `transaction items cannot be stored: ${(error as Error).message}`, cause: error })
  })

const isItemArray = (value: unknown): value is ReadonlyArray<Item> => Array.isArray(value)

const validateTransaction = (args: {
  readonly operationId: string
  readonly transaction: HistoryTransaction
}): Effect.Effect<{ operationId: string; transaction: HistoryTransaction }, InvalidArgumentError | InvalidItemError> => {
  if (args === null || typeof args !== "object") {
    return Effect.fail(new InvalidArgumentError({ argument: "args", message: "transaction arguments are invalid" }))
  }
  const { operationId, transaction } = args
  if (typeof operationId !== "string" || operationId.trim() === "") {
    return Effect.fail(
      new InvalidArgumentError({ argument: "operationId", message: "operationId must be a non-empty string" })
    )
  }
  if (transaction === null || typeof transaction !== "object") {
    return Effect.fail(new InvalidArgumentError({ argument: "transaction", message: "transaction must be an object" }))
  }
  if (transaction.type === "append_items" && isItemArray(transaction.items)) {
    return Effect.succeed({ operationId, transaction: { type: "append_items", items: transaction.items } })
  }
  if (
    transaction.type === "replace_suffix" && isItemArray(transaction.expectedSuffix) &&
    isItemArray(transaction.replacement)
  ) {
    return Effect.succeed({
      operationId,
      transaction: {
        type: "replace_suffix",
        expectedSuffix: transaction.expectedSuffix,
        replacement: transaction.replacement
      }
    })
  }
  return Effect.fail(
    new InvalidArgumentError({
      argument: "transaction",
      message: `unsupported transaction: type must be "append_items" (with items) or "replace_suffix" (with expectedSuffix and replacement)`
    })
  )
}

const validateMutations = (args: {
  readonly mutations: ReadonlyArray<HistoryMutation>
}): Effect.Effect<ReadonlyArray<HistoryMutation>, InvalidArgumentError> => {
  const mutations = args?.mutations
  if (!Array.isArray(mutations)) {
    return Effect.fail(new InvalidArgumentError({ argument: "mutations", message: "mutations must be an array" }))
  }
  for (const mutation of mutations) {
    if (
      mutation === null || typeof mutation !== "object" || mutation.type !== "replace_function_call" ||
      typeof mutation.callId !== "string" || mutation.replacement === null || typeof mutation.replacement !== "object"
    ) {
      return Effect.fail(
        new InvalidArgumentError({
          argument: "mutations",
          message: `unsupported mutation: expected { type: "replace_function_call", callId, replacement }`
        })
      )
    }
  }
  return Effect.succeed(mutations)
}

/**
 * The store as a layer over the application's `SqlClient`.
 *
 * @example
 * ```ts
 * import { PgClient } from "@effect/sql-pg"
 * import { Layer, Redacted } from "effect"
 * import { SqlSessionStore } from "effect-agent-sessions"
 *
 * const SessionsLive = SqlSessionStore.layer({ createTables: true }).pipe(
 *   Layer.provide(PgClient.layer({ url: Redacted.make(process.env.DATABASE_URL!) }))
 * )
 * ```
 *
 * @since 0.1.0
 */
export const layer = (
  options: SqlSessionStoreOptions = {}
): Layer.Layer<SessionStore, InvalidArgumentError | SessionStoreError, SqlClient.SqlClient> =>
  Layer.effect(SessionStore, make(options))

/**
 * Like `layer`, with the options read from `Config`.
 *
 * @example
 * ```ts
 * import { Config } from "effect"
 * import { SqlSessionStore } from "effect-agent-sessions"
 *
 * const SessionsLive = SqlSessionStore.layerConfig({
 *   createTables: Config.boolean("SESSIONS_CREATE_TABLES").pipe(Config.withDefault(false)),
 *   messagesTable: Config.string("SESSIONS_MESSAGES_TABLE").pipe(Config.withDefault("agent_messages"))
 * })
 * ```
 *
 * @since 0.1.0
 */
export const layerConfig = (
  config: Config.Config.Wrap<Omit<SqlSessionStoreOptions, "schema">>,
  extra: Pick<SqlSessionStoreOptions, "schema"> = {}
): Layer.Layer<SessionStore, ConfigError | InvalidArgumentError | SessionStoreError, SqlClient.SqlClient> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), (options) => layer({ ...options, ...extra })))

/**
 * The store over a fresh in-memory SQLite database with the tables created: for tests.
 * Every build of the layer is a new, empty database. Needs `@effect/sql-sqlite-node`.
 *
 * @since 0.1.0
 */
export const layerTest = (
  options: Omit<SqlSessionStoreOptions, "createTables"> = {}
): Layer.Layer<SessionStore, InvalidArgumentError | SessionStoreError> =>
  Layer.unwrapEffect(
    Effect.promise(() => import("@effect/sql-sqlite-node")).pipe(
      Effect.map(({ SqliteClient }) =>
        layer({ ...options, createTables: true }).pipe(
          // The config is a constant, so the client's ConfigError cannot happen.
          Layer.provide(Layer.orDie(SqliteClient.layer({ filename: ":memory:" })))
        )
      )
    )
  )

/**
 * The tables as migrations for your own `@effect/sql` `Migrator`
 * (`Migrator.fromRecord(SqlSessionStore.migrations())`). The DDL is idempotent, so it is also
 * safe on tables the Python SDK created: it adds the index and the operations table, and the
 * second migration adds the catalogue's columns and indexes (see `migrate`).
 *
 * @since 0.1.0
 */
export const migrations = (
  options: Pick<SqlSessionStoreOptions, "sessionsTable" | "messagesTable" | "operationsTable"> = {}
): Record<string, Effect.Effect<void, SqlError | InvalidArgumentError, SqlClient.SqlClient>> => ({
  "0001_agent_sessions": Effect.gen(function*() {
    const names = yield* resolveTableNames(options)
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    yield* makeStatements(sql, names).createTables
  }),
  "0002_agent_sessions_catalogue": Effect.gen(function*() {
    const names = yield* resolveTableNames(options)
    yield* upgradeCatalog((yield* SqlClient.SqlClient).withoutTransforms(), names)
  })
})

/**
 * Creates the tables when missing and upgrades existing ones (the 0.1.0 store's, or the Python
 * SDK's) in place: the catalogue columns, the listing indexes, the operations table. Idempotent
 * and safe from several processes at once; what `createTables: true` and
 * `agent-sessions migrate` run.
 *
 * @since 0.2.0
 */
export const migrate = (
  options: Pick<SqlSessionStoreOptions, "sessionsTable" | "messagesTable" | "operationsTable"> = {}
): Effect.Effect<void, SessionStoreError | InvalidArgumentError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const names = yield* resolveTableNames(options)
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    yield* makeStatements(sql, names).createTables.pipe(
      Effect.zipRight(upgradeCatalog(sql, names)),
      retryTransient("migrate"),
      Effect.mapError(storeError("migrate"))
    )
  }).pipe(Effect.withSpan("SessionStore.migrate"))

/**
 * @since 0.2.0
 */
export type RetentionOptions = Retention.RetentionOptions

/**
 * Retention as a scoped background fiber: every `every`, deletes the sessions idle for longer
 * than `idleFor` and the sessions past their `expiresAt` (of `owner` only, when given), logs
 * and counts (`SessionMetrics.prunedSessions`) what it removed, and stops with its scope. A
 * failed run is logged and the next run tries again. Reads never check `expiresAt`: expiry is
 * enforced by this pruning.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { SqlSessionStore } from "effect-agent-sessions"
 *
 * const RetentionLive = SqlSessionStore.layerRetention({ idleFor: "30 days", every: "1 hour" })
 * const AppLive = RetentionLive.pipe(Layer.provideMerge(SessionsLive))
 * ```
 *
 * @since 0.2.0
 */
export const layerRetention: (
  options: RetentionOptions
) => Layer.Layer<never, InvalidArgumentError, SessionStore> = Retention.layerRetention

/**
 * Options of `layerFromUrl`: the store's options, plus the pool's.
 *
 * @since 0.1.0
 */
export interface UrlOptions extends SqlSessionStoreOptions, ConnectionOptions {}

/**
 * The store and its own connection pool, from a database URL (see the README for the forms,
 * SQLAlchemy's included). Every failure, building the pool too, is a `SessionStoreError` within
 * `connectTimeout`; the URL is kept `Redacted`.
 *
 * @example
 * ```ts
 * import { Config, Layer } from "effect"
 * import { SqlSessionStore } from "effect-agent-sessions"
 *
 * const SessionsLive = Layer.unwrapEffect(
 *   Config.redacted("DATABASE_URL").pipe(
 *     Config.map((url) => SqlSessionStore.layerFromUrl(url, { createTables: true }))
 *   )
 * )
 * ```
 *
 * @since 0.1.0
 */
export const layerFromUrl = (
  url: Redacted.Redacted<string> | string,
  options: UrlOptions = {}
): Layer.Layer<SessionStore, SessionStoreError | InvalidArgumentError> => {
  const { connectTimeout, maxConnections, ...storeOptions } = options
  const database = parseDatabaseUrl(typeof url === "string" ? url : Redacted.value(url))
  if (Either.isLeft(database)) return Layer.fail(database.left)
  return layer(storeOptions).pipe(
    Layer.provide(clientLayer(database.right, { connectTimeout, maxConnections }))
  )
}
