/**
 * Reading stored rows through the codec: a row that fails to decode is skipped, logged and
 * counted, never a failure of the whole read.
 */
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Either, Metric, type Tracer } from "effect"
import * as SessionMetrics from "../SessionMetrics.js"
import type { Item } from "../SessionStore.js"
import type { Codec } from "./codec.js"
import type { MessageRow, Statements } from "./statements.js"
import { underSpan } from "./tracing.js"

export const decodable = (items: ReadonlyArray<Item | undefined>): Array<Item> =>
  items.filter((item): item is Item => item !== undefined)

export const makeReading = (codec: Codec) => {
    /**
     * Decodes rows in order; a row that fails to decode is `undefined`, logged and counted. With
     * `span`, what may start spans or log (a custom schema, the report) runs under it; the default
     * codec's decoding is plain synchronous code and needs no parent.
     */
    const decodeRows = (
      rows: ReadonlyArray<MessageRow>,
      sessionId: string,
      operation: string,
      span?: Tracer.Span
    ): Effect.Effect<Array<Item | undefined>> => {
      const texts = rows.map((row) => row.message_data)
      const finish = (results: ReadonlyArray<Either.Either<Item, string>>) => {
        const items = results.map((result) => Either.getOrUndefined(result))
        if (!results.some(Either.isLeft)) return Effect.succeed(items)
        const report = reportCorrupt(rows, results, sessionId, operation)
        return Effect.as(span === undefined ? report : underSpan(span)(report), items)
      }
      // The default codec decodes right here (this runs inside the caller's effect, on every read).
      const decoded = codec.decodeNow(texts)
      if (decoded !== undefined) return finish(decoded)
      const decode = codec.decodeAll(texts)
      return Effect.flatMap(span === undefined ? decode : underSpan(span)(decode), finish)
    }

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

    /**
     * The newest `limit` decodable items, newest first, paging past corrupt rows. `select` runs its
     * statements under whatever span it must; `span` is for decoding (see `decodeRows`).
     */
    const readNewest = (
      sessionId: string,
      limit: number,
      select: Statements["selectNewest"],
      operation: string,
      span?: Tracer.Span
    ): Effect.Effect<{ items: Array<Item>; rows: Array<MessageRow> }, SqlError> =>
      Effect.suspend(() => {
        // Fresh per run: a retry starts over.
        const items: Array<Item> = []
        const rows: Array<MessageRow> = []
        const readPage = (beforeId: string | number | undefined): Effect.Effect<typeof result, SqlError> => {
          const want = limit - items.length
          return Effect.flatMap(select(sessionId, want, beforeId), (page) =>
            Effect.flatMap(decodeRows(page, sessionId, operation, span), (decoded) => {
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
