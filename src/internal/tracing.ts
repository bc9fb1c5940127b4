/**
 * What every public operation of the SQL store goes through at its edge: its span and counters
 * (`traced`), and its `SqlError` mapped to `SessionStoreError` (`storeError`).
 */
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, FiberRef, Metric, type Tracer } from "effect"
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
 * Who makes the operation's span the parent of what its body starts (statements' spans, logs):
 * - `"body"`: the whole body runs under it.
 * - `"explicit"`: the body wraps, with `underSpan`, each part that starts spans or logs. The
 *   batched operations use it: most of their calls queue and are carried by another call's
 *   statement, so they start nothing, and providing the parent costs about a fifth of a queued
 *   call's CPU (docs/batching.md).
 */
export type Parenting = "body" | "explicit"

/** Runs `effect` with `span` as the parent of the spans it starts and the span of its logs. */
export const underSpan = (span: Tracer.Span) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.withParentSpan(effect, span)

/**
 * Runs an operation in its `SessionStore.<operation>` span and counts the call and its failure,
 * tagged by operation. Like `Effect.fn`, minus the call-site stack capture (about 20 µs a call,
 * measured); the body gets the span, so attributes cost no extra effects. The tagged counters
 * are built once, not on every call.
 */
export const traced = (operation: OperationName, parenting: Parenting = "body") => {
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
    Effect.useSpan(spanName, { captureStackTrace: false }, (span) => {
      // One step counts the call (with the caller's metric labels, as `Metric.increment` would)
      // and builds the body: this runs on every call, so it is kept to the fewest effects.
      const counted = Effect.withFiberRuntime((fiber): Effect.Effect<unknown, { readonly _tag: string }, unknown> => {
        started.unsafeUpdate(1, fiber.getFiberRef(FiberRef.currentMetricLabels))
        return body(span)
      })
      return Effect.tapError(parenting === "body" ? Effect.withParentSpan(counted, span) : counted, countFailure)
    }) as Effect.Effect<Effect.Effect.Success<Body>, Effect.Effect.Error<Body>, Effect.Effect.Context<Body>>
}
