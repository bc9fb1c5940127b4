/** Recording the spans an effect starts, to count the statements an operation sends. */
import { Effect, Tracer } from "effect"

/** Runs `effect` with a tracer that records the name of every span it starts. */
export const spanNames = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const names: Array<string> = []
    const base = yield* Effect.tracer
    const recording = Tracer.make({
      span: (name, parent, context, links, startTime, kind, options) => {
        names.push(name)
        return base.span(name, parent, context, links, startTime, kind, options)
      },
      context: base.context
    })
    yield* Effect.withTracer(effect, recording)
    return names
  })

export const count = (names: ReadonlyArray<string>, name: string) => names.filter((n) => n === name).length
