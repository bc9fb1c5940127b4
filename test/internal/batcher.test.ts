/**
 * The batching mechanism on its own, with statements that wait on gates the test opens, so every
 * interleaving of interest happens on purpose: a call interrupted while queued, a call interrupted
 * after a slot took it (as a follower, and as the leader that must still run the batch), and the
 * queue order and limits of a batch. The store's behaviour on real databases is in
 * test/store/batching.ts; this file pins the races that are hard to force there.
 */
import { Effect, Exit, Fiber, FiberId, Metric } from "effect"
import { describe, expect, it } from "vitest"
import { type BatchKind, makeBatcher } from "../../src/internal/batcher.js"
import * as SessionMetrics from "../../src/SessionMetrics.js"

/** A kind whose statements record what they carried and finish only when the test says so. */
const gatedKind = (options: { readonly key?: boolean | undefined } = {}) => {
  const statements: Array<ReadonlyArray<string>> = []
  const gates: Array<() => void> = []
  const statement = (requests: ReadonlyArray<string>) =>
    Effect.async<ReadonlyArray<string>>((resume) => {
      statements.push(requests)
      gates.push(() => resume(Effect.succeed(requests.map((request) => `done ${request}`))))
    })
  const kind: BatchKind<string, string, never> = {
    single: (request) => Effect.map(statement([request]), ([result]) => result!),
    combined: statement,
    weight: () => 1,
    budget: 1_000,
    splittable: () => false,
    sizes: Metric.tagged(SessionMetrics.batchSize, "operation", "batcher-test"),
    key: options.key === true ? (request) => request.split(":")[0]! : undefined
  }
  /** Opens the oldest statement's gate. */
  const finishNext = () => {
    const gate = gates.shift()
    if (gate === undefined) throw new Error("no statement is waiting")
    gate()
  }
  return { kind, statements, finishNext, waiting: () => gates.length }
}

/** Lets every runnable fiber run until none is (a few scheduler turns, no timers). */
const settle = Effect.gen(function*() {
  for (let turn = 0; turn < 20; turn++) yield* Effect.yieldNow()
})

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)

/** A one-slot batcher whose slot is taken by call "a", still in flight. */
const busyBatcher = (options: { readonly maxBatchSize?: number; readonly key?: boolean } = {}) =>
  Effect.gen(function*() {
    const batcher = makeBatcher({ slots: 1, maxBatchSize: options.maxBatchSize ?? 64, yieldFirst: false })
    const gated = gatedKind({ key: options.key })
    const call = (request: string) => Effect.fork(batcher.run(gated.kind, request, undefined))
    const first = yield* call("a")
    yield* settle
    /** Checks that the slot came back: a new call runs at once, alone. */
    const expectSlotFree = Effect.gen(function*() {
      const after = yield* call("after")
      yield* settle
      expect(gated.statements.at(-1)).toEqual(["after"])
      gated.finishNext()
      expect(yield* Fiber.join(after)).toBe("done after")
    })
    return { ...gated, call, first, expectSlotFree }
  })

describe("batcher", () => {
  it("sends a lone call at once, and queued calls together when the slot frees, in queue order", () =>
    run(Effect.gen(function*() {
      const { call, finishNext, first, statements } = yield* busyBatcher()
      expect(statements).toEqual([["a"]])
      const rest = yield* Effect.forEach(["b", "c", "d"], call)
      yield* settle
      expect(statements).toEqual([["a"]])
      finishNext()
      expect(yield* Fiber.join(first)).toBe("done a")
      yield* settle
      expect(statements).toEqual([["a"], ["b", "c", "d"]])
      finishNext()
      expect(yield* Effect.forEach(rest, Fiber.join)).toEqual(["done b", "done c", "done d"])
    })))

  it("keeps to maxBatchSize and to one request per key, without letting later calls overtake", () =>
    run(Effect.gen(function*() {
      const { call, finishNext, first, statements, waiting } = yield* busyBatcher({ maxBatchSize: 3, key: true })
      const requests = ["s1:1", "s2:1", "s1:2", "s3:1", "s4:1", "s5:1", "s6:1"]
      const fibers = yield* Effect.forEach(requests, call)
      yield* settle
      while (waiting() > 0) {
        finishNext()
        yield* settle
      }
      yield* Fiber.join(first)
      expect(yield* Effect.forEach(fibers, Fiber.join)).toEqual(requests.map((request) => `done ${request}`))
      // s1:2 shares a key with s1:1, so the first batch stops before it; the next one starts with it.
      expect(statements).toEqual([["a"], ["s1:1", "s2:1"], ["s1:2", "s3:1", "s4:1"], ["s5:1", "s6:1"]])
    })))

  it("never runs a call interrupted while it is queued, and the slot still serves the rest", () =>
    run(Effect.gen(function*() {
      const { call, expectSlotFree, finishNext, first, statements } = yield* busyBatcher()
      const victim = yield* call("victim")
      const other = yield* call("b")
      yield* settle
      // Returns once the victim has left the queue: nothing was in flight for it.
      yield* Fiber.interrupt(victim)
      finishNext()
      yield* Fiber.join(first)
      yield* settle
      finishNext()
      expect(yield* Fiber.join(other)).toBe("done b")
      expect(Exit.isInterrupted(yield* Fiber.await(victim))).toBe(true)
      expect(statements).toEqual([["a"], ["b"]])
      // The slot was handed on and given back.
      yield* expectSlotFree
    })))

  it("finishes a follower interrupted in flight: its request is applied before the interruption is honoured", () =>
    run(Effect.gen(function*() {
      const { call, finishNext, first, statements, waiting } = yield* busyBatcher()
      const leader = yield* call("b")
      const follower = yield* call("c")
      yield* settle
      finishNext()
      yield* settle
      expect(statements.at(-1)).toEqual(["b", "c"])
      const interrupting = yield* Effect.fork(Fiber.interrupt(follower))
      yield* settle
      // The interruption waits for the statement that carries the follower's request.
      expect(interrupting.unsafePoll()).toBe(null)
      expect(waiting()).toBe(1)
      finishNext()
      yield* Fiber.join(interrupting)
      expect(yield* Fiber.join(leader)).toBe("done b")
      yield* Fiber.join(first)
      expect(Exit.isInterrupted(yield* Fiber.await(follower))).toBe(true)
    })))

  it("runs the batch of a leader interrupted just as the slot was handed to it, so its followers finish", () =>
    run(Effect.gen(function*() {
      const { call, expectSlotFree, finishNext, first, statements } = yield* busyBatcher()
      const leader = yield* call("b")
      const follower = yield* call("c")
      yield* settle
      // In one synchronous step: the first statement finishes (its fiber will hand the slot to
      // `b`) and `b` is told to stop, before either fiber has run again.
      finishNext()
      leader.unsafeInterruptAsFork(FiberId.none)
      yield* settle
      expect(statements).toEqual([["a"], ["b", "c"]])
      finishNext()
      expect(yield* Fiber.join(follower)).toBe("done c")
      expect(Exit.isInterrupted(yield* Fiber.await(leader))).toBe(true)
      yield* Fiber.join(first)
      // The slot was not lost with the interrupted leader.
      yield* expectSlotFree
    })))
})
