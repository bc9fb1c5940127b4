/**
 * Bounded retries of transient failures, on their own: a transient failure runs again, is logged
 * and counted, and with a span its retries and logs belong to that span; anything else fails at once.
 */
import { SqlError } from "@effect/sql/SqlError"
import { Effect, Metric, Tracer } from "effect"
import { describe, expect, it } from "vitest"
import { retryTransient } from "../../src/internal/retry.js"
import * as SessionMetrics from "../../src/SessionMetrics.js"

const deadlock = new SqlError({ cause: Object.assign(new Error("deadlock detected"), { code: "40P01" }), message: "x" })
const syntax = new SqlError({ cause: Object.assign(new Error("syntax error"), { code: "42601" }), message: "x" })

/** Fails with each of `failures` in turn, then succeeds with the number of attempts. */
const flaky = (failures: ReadonlyArray<SqlError>) => {
  let attempts = 0
  return Effect.suspend(() => {
    attempts++
    return attempts <= failures.length ? Effect.fail(failures[attempts - 1]!) : Effect.succeed(attempts)
  })
}

type EventedSpan = Tracer.Span & { readonly events: ReadonlyArray<readonly [string, bigint, unknown]> }

describe("retryTransient", () => {
  it("runs a transiently failed statement again, under the given span, and counts each retry", async () => {
    const retries = Metric.tagged(SessionMetrics.retries, "operation", "retry-test")
    const { attempts, before, after, span } = await Effect.runPromise(Effect.gen(function*() {
      const before = (yield* Metric.value(retries)).count
      const span = (yield* Effect.makeSpan("SessionStore.retry-test")) as EventedSpan
      const attempts = yield* retryTransient("retry-test")(flaky([deadlock, deadlock]), span)
      const after = (yield* Metric.value(retries)).count
      return { attempts, before, after, span }
    }))
    expect(attempts).toBe(3)
    expect(after - before).toBe(2)
    expect(span.events.map(([message]) => message)).toEqual([
      "retry-test: transient database failure, retrying",
      "retry-test: transient database failure, retrying"
    ])
  })

  it("fails at once on a failure that is not transient", async () => {
    const error = await Effect.runPromise(Effect.flip(retryTransient("retry-test")(flaky([syntax]))))
    expect(error).toBe(syntax)
  })
})
