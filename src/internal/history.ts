/**
 * The history operations of the SQL store: applyHistoryTransaction, applyHistoryMutations and
 * replaceHistory, each one short transaction, retried as a whole on transient failures.
 */
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Option } from "effect"
import { createHash } from "node:crypto"
import {
  type HistoryMutation,
  type HistoryTransaction,
  HistoryConflictError,
  InvalidArgumentError,
  InvalidItemError,
  type Item,
  type SessionStore,
  SessionStoreError
} from "../SessionStore.js"
import type { Codec } from "./codec.js"
import { canonicalJson, messageOf } from "./json.js"
import type { Reading } from "./reading.js"
import { retryTransient } from "./retry.js"
import type { Statements, TableNames, transactionOf } from "./statements.js"
import { storeError, type traced } from "./tracing.js"

export interface HistoryContext {
  readonly names: TableNames
  readonly statements: Statements
  readonly transaction: ReturnType<typeof transactionOf>
  readonly codec: Codec
  readonly reading: Reading
  readonly hasOperations: boolean
  readonly sessionIdError: (sessionId: string) => InvalidArgumentError | undefined
  readonly trace: typeof traced
}

export type HistoryOperation = "applyHistoryTransaction" | "applyHistoryMutations" | "replaceHistory"

export const makeHistory = (
  { codec, hasOperations, names, reading, sessionIdError, statements, trace: traced, transaction }: HistoryContext
): Pick<SessionStore["Type"], HistoryOperation> => {
  const { decodeRows, readNewest } = reading
  // Built once: each carries its own tagged retry counter and its tagged operation counters.
  const retry = {
    applyHistoryTransaction: retryTransient("applyHistoryTransaction"),
    applyHistoryMutations: retryTransient("applyHistoryMutations"),
    replaceHistory: retryTransient("replaceHistory")
  }
  const trace = {
    applyHistoryTransaction: traced("applyHistoryTransaction"),
    applyHistoryMutations: traced("applyHistoryMutations"),
    replaceHistory: traced("replaceHistory")
  }

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
    trace.applyHistoryTransaction((span) =>
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
                "applyHistoryTransaction",
                span
              )
              const actual = items.reverse().map((item) => safeCanonical(item))
              if (actual.length < expected.length || actual.some((text, index) => text !== expected[index])) {
                return yield* conflict("suffix_mismatch")
              }
              // Only the matched rows: a row between them that we skip may be one Python reads.
              yield* statements.deleteIds(rows.map((row) => row.id))
            }
            yield* statements.insertMessages(sessionId, appended)
            yield* statements.insertOperation(sessionId, operationKey, fingerprint)
          })
        )
      })
    )

  const applyHistoryMutations = (sessionId: string, args: { readonly mutations: ReadonlyArray<HistoryMutation> }) =>
    trace.applyHistoryMutations((span) =>
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
            const decoded = yield* decodeRows(rows, sessionId, "applyHistoryMutations", span)
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

  return { applyHistoryTransaction, applyHistoryMutations, replaceHistory }
}

const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex")

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
      new InvalidItemError({ message: `transaction items cannot be stored: ${messageOf(error)}`, cause: error })
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
