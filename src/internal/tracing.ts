/**
 * What every public operation of the SQL store goes through at its edge: its span and counters
 * (`traced`), and its `SqlError` mapped to `SessionStoreError` (`storeError`).
 */
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Metric, type Tracer } from "effect"
import * as SessionMetrics from "../SessionMetrics.js"
import { type SessionStore, SessionStoreError } from "../SessionStore.js"
import { isMissingTable, MISSING_TABLE_ADVICE } from "./tables.js"

export const storeError = (operation: string, sessionId?: string) => (error: SqlError): SessionStoreError => {
  const cause = error.cause ?? error
  const detail = cause instanceof Error ? cause.message : String(cause)
  // The driver's words for a missing table (42P01, 1146, "no such table") do not say what to do.
  const advice = isMissingTable(cause) ? ` (a table does not exist: ${MISSING_TABLE_ADVICE})` : ""
  return new SessionStoreError({
    operation,
    sessionId,
    message: `${operation} failed${sessionId === undefined ? "" : ` for session ${JSON.stringify(sessionId)}`}: ${
      detail || error.message
    }${advice}`,
    cause
  })
}

export type OperationName = keyof SessionStore["Type"]

/**
 * Runs an operation in its `SessionStore.<operation>` span and counts the call and its failure,
 * tagged by operation. Like `Effect.fn`, minus the call-site stack capture (about 20 µs a call,
 * measured); the body gets the span, so attributes cost no extra effects. The tagged counters
 * are built once, not on every call.
 */
export const traced = (operation: OperationName) => {
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
