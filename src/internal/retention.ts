/**
 * Retention: a background fiber that prunes idle and expired sessions through the store.
 */
import { Clock, Duration, Effect, Layer, Metric, Schedule } from "effect"
import * as SessionMetrics from "../SessionMetrics.js"
import { InvalidArgumentError, SessionStore } from "../SessionStore.js"
import { MAX_OWNER_LENGTH, textProblem } from "./catalogValidation.js"

/**
 * @since 0.2.0
 */
export interface RetentionOptions {
  /** Sessions not updated for this long are deleted. */
  readonly idleFor: Duration.DurationInput
  /** How often to prune; the first run starts at once. */
  readonly every: Duration.DurationInput
  /** Only this owner's sessions. */
  readonly owner?: string | undefined
}

const idleCounter = Metric.tagged(SessionMetrics.prunedSessions, "reason", "idle")
const expiredCounter = Metric.tagged(SessionMetrics.prunedSessions, "reason", "expired")

const positive = (argument: string, input: Duration.DurationInput): Effect.Effect<Duration.Duration, InvalidArgumentError> => {
  const duration = Duration.decodeUnknown(input)
  return duration._tag === "Some" && Duration.greaterThan(duration.value, Duration.zero) && Duration.isFinite(duration.value)
    ? Effect.succeed(duration.value)
    : Effect.fail(new InvalidArgumentError({ argument, message: `${argument} must be a positive, finite duration` }))
}

/** One pruning pass: idle sessions, then expired ones. A failure is logged, never fatal. */
const pruneOnce = (store: SessionStore["Type"], idleFor: Duration.Duration, owner: string | undefined) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const idle = yield* store.deleteSessions({ owner, idleBefore: new Date(now - Duration.toMillis(idleFor)) })
    const expired = yield* store.deleteSessions({ owner, expired: true })
    yield* Metric.incrementBy(idleCounter, idle)
    yield* Metric.incrementBy(expiredCounter, expired)
    if (idle + expired > 0) {
      yield* Effect.logInfo(`retention: deleted ${idle} idle and ${expired} expired sessions`).pipe(
        Effect.annotateLogs({ idle, expired })
      )
    }
  }).pipe(
    Effect.catchAll((error) =>
      Effect.logWarning("retention: pruning failed, trying again at the next run").pipe(
        Effect.annotateLogs({ error: error.message })
      )
    ),
    Effect.withSpan("SessionStore.retention")
  )

export const layerRetention = (
  options: RetentionOptions
): Layer.Layer<never, InvalidArgumentError, SessionStore> =>
  Layer.scopedDiscard(
    Effect.gen(function*() {
      const idleFor = yield* positive("idleFor", options.idleFor)
      const every = yield* positive("every", options.every)
      if (options.owner !== undefined) {
        const problem = textProblem(options.owner, MAX_OWNER_LENGTH)
        if (problem !== undefined) return yield* new InvalidArgumentError({ argument: "owner", message: `owner ${problem}` })
      }
      const store = yield* SessionStore
      yield* pruneOnce(store, idleFor, options.owner).pipe(
        Effect.repeat(Schedule.spaced(every)),
        Effect.forkScoped
      )
    })
  )
