/**
 * Reading stored rows through the codec: a row that fails to decode is skipped, logged and
 * counted, never a failure of the whole read.
 */
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Either, Metric } from "effect"
import * as SessionMetrics from "../SessionMetrics.js"
import type { Item } from "../SessionStore.js"
import type { Codec } from "./codec.js"
import type { MessageRow, Statements } from "./statements.js"

export const decodable = (items: ReadonlyArray<Item | undefined>): Array<Item> =>
  items.filter((item): item is Item => item !== undefined)

export const makeReading = (codec: Codec) => {
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

  return { decodeRows, readNewest }
}

export type Reading = ReturnType<typeof makeReading>
