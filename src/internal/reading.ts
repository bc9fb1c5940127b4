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

const CORRUPT_ROWS = "session.corrupt_rows"

export const decodable = (items: ReadonlyArray<Item | undefined>): Array<Item> =>
  items.filter((item): item is Item => item !== undefined)

export const makeReading = (codec: Codec) => {
    /**
     * Decodes rows in order; a row that fails to decode is `undefined`, logged and counted. With
     * `span`, what may start spans or log (a custom schema, the report) runs under it, and the
     * span's `session.corrupt_rows` adds up over every call of one operation; the default codec's
     * decoding is plain synchronous code and needs no parent. With `aboveFirstDecodable`, only the
     * failures above the first row that decodes are reported: a pop skips those and no others.
     */
    const decodeRows = (
      rows: ReadonlyArray<MessageRow>,
      sessionId: string,
      operation: string,
      span?: Tracer.Span,
      aboveFirstDecodable = false
    ): Effect.Effect<Array<Item | undefined>> => {
      const texts = rows.map((row) => row.message_data)
      const finish = (results: ReadonlyArray<Either.Either<Item, string>>) => {
        const items = results.map((result) => Either.getOrUndefined(result))
        const first = aboveFirstDecodable ? results.findIndex(Either.isRight) : -1
        const considered = first >= 0 ? results.slice(0, first) : results
        if (!considered.some(Either.isLeft)) return Effect.succeed(items)
        const report = reportCorrupt(rows, considered, sessionId, operation, span)
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
      operation: string,
      span: Tracer.Span | undefined
    ): Effect.Effect<void> => {
      const failures = results.flatMap((result, index) =>
        Either.isLeft(result) ? [{ row: rows[index]!, reason: result.left }] : []
      )
      const logFailure = ({ reason, row }: (typeof failures)[number]) =>
        Effect.logWarning(`${operation}: skipped a stored row that failed to decode`).pipe(
          Effect.annotateLogs({ sessionId, rowId: String(row.id), reason })
        )
      // A read that pages past corrupt rows reports once per page: the attribute adds them up.
      const addTo = (target: Tracer.Span) =>
        target.attribute(CORRUPT_ROWS, Number(target.attributes.get(CORRUPT_ROWS) ?? 0) + failures.length)
      const annotate = span === undefined
        ? Effect.ignore(Effect.flatMap(Effect.currentSpan, (current) => Effect.sync(() => addTo(current))))
        : Effect.sync(() => addTo(span))
      return Effect.forEach(failures, logFailure, { discard: true }).pipe(
        Effect.zipRight(
          Metric.incrementBy(Metric.tagged(SessionMetrics.corruptRows, "operation", operation), failures.length)
        ),
        Effect.zipRight(annotate)
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
