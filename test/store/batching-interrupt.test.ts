/**
 * A call interrupted at any scheduler yield around taking a batching slot must not keep the slot.
 * (Found by the adversarial pass: `free--` once ran before the uninterruptible region began, a
 * yield there leaked the slot, and every later batched call hung.)
 */
import { Duration, Effect, Exit, Fiber, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { SessionStore, SqlSessionStore } from "../../src/index.js"
import { mysql, postgres, type TestDatabase, uniqueId } from "../support/databases.js"

const HANG = Duration.seconds(15)

/** `k` cheap steps before the call, so that the fiber's op-budget yield lands at every point in turn. */
const pad = (k: number, extra: boolean): Effect.Effect<void> => {
  let effect: Effect.Effect<void> = extra ? Effect.sync(() => undefined) : Effect.void
  for (let i = 0; i < k; i++) effect = Effect.flatMap(effect, () => Effect.void)
  return effect
}

const sweep = Effect.gen(function*() {
  const store = yield* SessionStore
  const id = uniqueId("leak")
  yield* store.addItems(id, [{ warm: true }])
  for (let k = 0; k <= 2300; k++) {
    for (const extra of [false, true]) {
      const fiber = yield* Effect.fork(Effect.zipRight(pad(k, extra), store.addItems(id, [{ k }])))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(fiber)
    }
  }
  const last = yield* Effect.exit(Effect.timeout(store.addItems(id, [{ last: true }]), HANG))
  return last
})

describe("batching slot survives interruption", () => {
  it("SQLite: addItems still settles after calls interrupted at every yield point", async () => {
    const last = await Effect.runPromise(Effect.provide(sweep, SqlSessionStore.layerTest()))
    expect(Exit.isSuccess(last), String(last)).toBe(true)
  }, 240_000)

  for (const db of [postgres, mysql] as ReadonlyArray<TestDatabase>) {
    it.skipIf(db.unavailable !== undefined)(
      `${db.label}: addItems still settles after calls interrupted at every yield point`,
      async () => {
        const layer = SqlSessionStore.layer({ createTables: true }).pipe(Layer.provide(db.layer))
        const last = await Effect.runPromise(Effect.provide(sweep, layer))
        expect(Exit.isSuccess(last), String(last)).toBe(true)
      },
      240_000
    )
  }
})
