/** Recording the spans an effect starts, to count the statements an operation sends and see who owns them. */
import { Effect, Option, Tracer } from "effect"

/** Runs `effect` and returns the name of every span it started. */
export const spanNames = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(recordSpans(effect), ({ spans }) => spans.map((recorded) => recorded.name))

export const count = (names: ReadonlyArray<string>, name: string) => names.filter((n) => n === name).length

export interface RecordedSpan {
  readonly name: string
  readonly span: Tracer.Span
  readonly attributes: ReadonlyMap<string, unknown>
  readonly parent: Tracer.AnySpan | undefined
}

/** Runs `effect` with a tracer that keeps every span it starts, with its parent. */
export const recordSpans = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const spans: Array<RecordedSpan> = []
    const base = yield* Effect.tracer
    const recording = Tracer.make({
      span: (name, parent, context, links, startTime, kind, options) => {
        const span = base.span(name, parent, context, links, startTime, kind, options)
        spans.push({ name, span, attributes: span.attributes, parent: Option.getOrUndefined(parent) })
        return span
      },
      context: base.context
    })
    const result = yield* Effect.withTracer(effect, recording)
    return { result, spans }
  })
