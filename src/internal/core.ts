/**
 * The four session operations of the SQL store: getItems, addItems, popItem and clearSession.
 * They are the hot path: a handful of effects around one statement, with no generator, so the
 * store's own cost stays small next to the round trip.
 */
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Either, Option, type Tracer } from "effect"
import type { InvalidArgumentError, Item, SessionStore, SessionStoreError } from "../SessionStore.js"
import type { Batching } from "./batching.js"
import type { Codec } from "./codec.js"
import { isPythonReadable } from "./json.js"
import { decodable, type Reading } from "./reading.js"
import { retryTransient } from "./retry.js"
import type { Statements, transactionOf } from "./statements.js"
import { storeError, type traced, underSpan } from "./tracing.js"
import { limitError } from "./validation.js"

/**
 * The largest LIMIT sent to the database: PostgreSQL's LIMIT is a BIGINT and SQLite's an integer,
 * so 2^63, 1e21 or `Number.MAX_VALUE` would be SQL errors. Above it the store reads the whole
 * history and keeps the newest `limit` items, which is all of them for any real session.
 */
const MAX_SQL_LIMIT = 2 ** 31 - 1

/** Rows the careful pop reads at a time after the first, when the newest rows do not decode. */
const CAREFUL_POP_PAGE = 16

export interface CoreContext {
  readonly statements: Statements
  readonly transaction: ReturnType<typeof transactionOf>
  readonly batching: Batching
  readonly codec: Codec
  readonly reading: Reading
  readonly hasOperations: boolean
  readonly sessionIdError: (sessionId: string) => InvalidArgumentError | undefined
  readonly trace: typeof traced
}

export type CoreOperation = "getItems" | "addItems" | "popItem" | "clearSession"

export const makeCore = (
  { batching, codec, hasOperations, reading, sessionIdError, statements, trace: traced, transaction }: CoreContext
): Pick<SessionStore["Type"], CoreOperation> => {
  const { decodeRows, readNewest } = reading
  // Built once: each carries its own tagged retry counter and its tagged operation counters.
  const retry = {
    getItems: retryTransient("getItems"),
    addItems: retryTransient("addItems"),
    popItem: retryTransient("popItem"),
    clearSession: retryTransient("clearSession")
  }
  // The batched operations make their span the parent only where this call's own fiber starts
  // spans or logs: a queued call is carried by another call's statement (see `Parenting`).
  const trace = {
    getItems: traced("getItems", "explicit"),
    addItems: traced("addItems", "explicit"),
    popItem: traced("popItem", "explicit"),
    clearSession: traced("clearSession", "explicit")
  }

  const getItems = (sessionId: string, limit?: number) =>
    trace.getItems((span) => {
      const invalid = sessionIdError(sessionId) ?? limitError(limit)
      if (invalid !== undefined) return Effect.fail(invalid)
      span.attribute("session.id", sessionId)
      span.attribute("session.limit", limit ?? "all")
      if (limit !== undefined && limit <= 0) return Effect.succeed<ReadonlyArray<Item>>([])
      const read = limit === undefined || limit > MAX_SQL_LIMIT
        ? underSpan(span)(Effect.flatMap(statements.selectAll(sessionId), (rows) =>
          Effect.map(decodeRows(rows, sessionId, "getItems", span), (items) => {
            const all = decodable(items)
            return limit === undefined || all.length <= limit ? all : all.slice(all.length - limit)
          })))
        : Effect.map(
          readNewest(sessionId, limit, batching.selectNewest(span), "getItems", span),
          ({ items }) => items.reverse()
        )
      return retry.getItems(read, span).pipe(
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
      const append = (encoded: ReadonlyArray<string>) => {
        if (encoded.length === 0) return Effect.void
        // Interruptible only while queued for a batch: see batching.ts.
        return Effect.mapError(
          retry.addItems(batching.appendMessages(sessionId, encoded, span), span),
          storeError("addItems", sessionId)
        )
      }
      // The default codec encodes right here, synchronously; a custom schema is an effect that
      // may start spans or log, so it runs under the operation's span.
      const encoded = codec.encodeNow(items)
      if (encoded !== undefined) return Either.isLeft(encoded) ? Effect.fail(encoded.left) : append(encoded.right)
      return Effect.flatMap(underSpan(span)(codec.encodeAll(items)), append)
    })

  /**
   * The pop that decodes before it deletes, in one transaction: the newest decodable row goes;
   * rows above it that nobody can read go too; rows the Python SDK can read but we cannot
   * decode (a top-level number, say) stay where they are.
   */
  const popCarefully = (sessionId: string, span: Tracer.Span): Effect.Effect<Option.Option<Item>, SqlError> =>
    transaction(Effect.suspend(() => {
      // Fresh per run: a retry starts over.
      const unreadable: Array<string | number> = []
      const walk = (beforeId: string | number | undefined, want: number): Effect.Effect<Option.Option<Item>, SqlError> =>
        Effect.flatMap(statements.selectNewestForUpdate(sessionId, want, beforeId), (page) => {
          // An empty page is the end: a short one may only mean a concurrent pop took rows.
          if (page.length === 0) return Effect.as(statements.deleteIds(unreadable), Option.none())
          // Reported: only the rows above the one it pops, which it skips (or deletes).
          return Effect.flatMap(decodeRows(page, sessionId, "popItem", span, true), (items) => {
            for (let index = 0; index < page.length; index++) {
              const item = items[index]
              const row = page[index]!
              if (item !== undefined) return Effect.as(statements.deleteIds([...unreadable, row.id]), Option.some(item))
              if (!isPythonReadable(row.message_data)) unreadable.push(row.id)
            }
            return walk(page[page.length - 1]!.id, CAREFUL_POP_PAGE)
          })
        })
      return walk(undefined, 1)
    }))

  const popItem = (sessionId: string) =>
    trace.popItem((span) => {
      const invalid = sessionIdError(sessionId)
      if (invalid !== undefined) return Effect.fail(invalid)
      span.attribute("session.id", sessionId)
      const count = (item: Option.Option<Item>) => {
        span.attribute("session.items", Option.isSome(item) ? 1 : 0)
      }
      // A custom schema may refuse rows Python reads: with one, every pop decodes before it deletes.
      if (!codec.isDefault) {
        return popCarefully(sessionId, span).pipe(
          retry.popItem,
          underSpan(span),
          Effect.mapError(storeError("popItem", sessionId)),
          Effect.uninterruptible,
          Effect.tap(count)
        )
      }
      // Interruptible only while queued for a batch: see batching.ts.
      const pop = Effect.mapError(
        retry.popItem(batching.deleteNewest(sessionId, span), span),
        storeError("popItem", sessionId)
      )
      // The one-statement pop deletes only text that starts like an object, which the default
      // codec decodes whenever Python can read it: a popped row that fails to decode is
      // unreadable for everyone, and the pop goes on down.
      const popDecodable: Effect.Effect<Option.Option<Item>, SessionStoreError> = Effect.flatMap(pop, (popped) =>
        Option.isNone(popped)
          ? Effect.succeedNone
          : Effect.flatMap(
            decodeRows([{ id: "popped", message_data: popped.value }], sessionId, "popItem", span),
            ([item]) => item === undefined ? popDecodable : Effect.succeedSome(item)
          ))
      return Effect.tap(popDecodable, count)
    })

  const clearSession = (sessionId: string) =>
    trace.clearSession((span) => {
      const invalid = sessionIdError(sessionId)
      if (invalid !== undefined) return Effect.fail(invalid)
      span.attribute("session.id", sessionId)
      // Interruptible only while queued for a batch: see batching.ts.
      return retry.clearSession(batching.clearSession({ sessionId, withOperations: hasOperations }, span), span).pipe(
        Effect.mapError(storeError("clearSession", sessionId)),
        Effect.map((removed) => {
          span.attribute("session.items", removed)
        })
      )
    })

  return { getItems, addItems, popItem, clearSession }
}
