/**
 * The store's metrics. They are ordinary Effect metrics: with `@effect/opentelemetry`'s metrics
 * layer they are exported to OpenTelemetry; in tests read them with `Metric.value`.
 *
 * Every metric is tagged with `operation` (`getItems`, `addItems`, `popItem`, …).
 *
 * @since 0.1.0
 */
import { Metric, MetricBoundaries } from "effect"

/**
 * Operations started.
 *
 * @since 0.1.0
 */
export const operations = Metric.counter("agent_session_operations_total", {
  description: "Session store operations started",
  incremental: true
})

/**
 * Operations that failed, additionally tagged with `error` (the error's `_tag`).
 *
 * @since 0.1.0
 */
export const failures = Metric.counter("agent_session_failures_total", {
  description: "Session store operations that failed",
  incremental: true
})

/**
 * Stored rows that failed to decode and were skipped (reads) or deleted (pops).
 *
 * @since 0.1.0
 */
export const corruptRows = Metric.counter("agent_session_corrupt_rows_total", {
  description: "Stored rows skipped because they failed to decode",
  incremental: true
})

/**
 * Statements retried after a transient failure (deadlock, serialization failure, SQLite busy).
 *
 * @since 0.1.0
 */
export const retries = Metric.counter("agent_session_retries_total", {
  description: "Statements retried after a transient database failure",
  incremental: true
})

/**
 * Requests per statement sent by natural batching (`1` for a call that ran alone), tagged with
 * `operation` (`addItems`, `getItems`, `popItem`). See docs/batching.md.
 *
 * @since 0.1.0
 */
export const batchSize = Metric.histogram(
  "agent_session_batch_size",
  MetricBoundaries.exponential({ start: 1, factor: 2, count: 10 }),
  "Requests carried by each statement of natural batching"
)

/**
 * Sessions deleted by retention (`SqlSessionStore.layerRetention`), tagged with `reason`
 * (`idle` or `expired`).
 *
 * @since 0.2.0
 */
export const prunedSessions = Metric.counter("agent_session_pruned_total", {
  description: "Sessions deleted by retention",
  incremental: true
})
