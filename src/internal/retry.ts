/**
 * Bounded retries of transient database failures. A failure is retried only when the database
 * guarantees the statement or transaction was rolled back, so a retry can never apply a change
 * twice.
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Duration, Effect, Metric, Option, Schedule, type Tracer } from "effect"
import * as SessionMetrics from "../SessionMetrics.js"

const PG_TRANSIENT = new Set(["40001", "40P01"]) // serialization_failure, deadlock_detected
const MYSQL_TRANSIENT = new Set([1213, 1205]) // ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT
const SQLITE_TRANSIENT = /^SQLITE_(BUSY|LOCKED)/

export const isTransient = (error: unknown): error is SqlError => {
  if ((error as { _tag?: unknown } | null)?._tag !== "SqlError") return false
  const cause = (error as SqlError).cause as { code?: unknown; errno?: unknown } | undefined
  if (cause === null || typeof cause !== "object") return false
  if (typeof cause.code === "string" && (PG_TRANSIENT.has(cause.code) || SQLITE_TRANSIENT.test(cause.code))) {
    return true
  }
  return typeof cause.errno === "number" && MYSQL_TRANSIENT.has(cause.errno)
}

// 10 ms doubling to at most 1 s between attempts, 10 retries: about 4 s of waiting in all, enough
// for another SQLite process to finish its transaction, while a real outage still fails quickly.
const transientSchedule = Schedule.exponential(Duration.millis(10), 2).pipe(
  Schedule.modifyDelay((delay) => Duration.min(delay, Duration.seconds(1))),
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(10))
)

/**
 * Retries `effect` on transient failures, logging and counting every retry. The first attempt
 * runs bare: the schedule is only set up once a transient failure has happened. With `span`, the
 * retries and their logs run under it (for operations whose span is not the parent of their
 * whole body: see `Parenting`).
 *
 * Inside the caller's own transaction nothing is retried: a deadlock there has rolled back (or,
 * on PostgreSQL, aborted) the caller's whole transaction, and on MySQL a statement sent again would
 * run outside it and commit on its own. The failure is the caller's, to retry as a whole.
 */
export const retryTransient = (operation: string) => {
  const retryCounter = Metric.tagged(SessionMetrics.retries, "operation", operation)
  const announce = (error: SqlError) =>
    Effect.logWarning(`${operation}: transient database failure, retrying`).pipe(
      Effect.annotateLogs({ operation, cause: String((error.cause as Error)?.message ?? error.message) }),
      Effect.zipRight(Metric.increment(retryCounter))
    )
  return <A, E, R>(effect: Effect.Effect<A, E, R>, span?: Tracer.Span): Effect.Effect<A, E, R> =>
    Effect.catchIf(effect, isTransient, (firstError) =>
      Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (transaction) => {
        if (Option.isSome(transaction)) return Effect.fail(firstError)
        // Replays the first failure once, so the schedule's first delay comes before the
      // second attempt and every failed attempt is announced exactly once.
        let replayed = false
        const attempt = Effect.suspend((): Effect.Effect<A, E | SqlError, R> => {
          if (replayed) return effect
          replayed = true
          return Effect.fail(firstError)
        })
        const retried = Effect.retry(
          attempt.pipe(Effect.tapError((error) => (isTransient(error) ? announce(error) : Effect.void))),
          { schedule: transientSchedule, while: isTransient }
        )
        return span === undefined ? retried : Effect.withParentSpan(retried, span)
      })) as Effect.Effect<A, E, R>
}
