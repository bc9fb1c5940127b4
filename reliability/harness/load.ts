/**
 * The load: many sessions, many concurrent fibers, a mix of add / get / pop / clear, every result
 * checked against an in-memory model as it comes back and every history checked at the end.
 */
import { Cause, Duration, Effect, Exit, Fiber, Option, Schedule } from "effect"
import { SessionStore } from "../../src/index.js"
import type { Item } from "../../src/index.js"
import { checkContended, ExactModel, makeBatch, type Mutation, percentile, type TestItem } from "./model.js"

export type OpKind = "add" | "get" | "pop" | "clear"

export interface LoadOptions {
  readonly prefix: string
  readonly sessions: number
  readonly concurrency: number
  readonly operations: number
  readonly mix?: Readonly<Record<OpKind, number>>
  readonly maxBatch?: number
  /** Typed `SessionStoreError`s are expected (faults are being injected): resolve each outcome. */
  readonly faults?: boolean
  /** Interrupt this share of the mutations (0..1) after a random delay of up to `interruptMaxMs`. */
  readonly interruptShare?: number
  readonly interruptMaxMs?: number
  /** Polled during the load; its maximum is reported (open connections). */
  readonly sample?: () => Promise<number>
}

export interface LoadStats {
  readonly operations: number
  readonly byKind: Record<OpKind, number>
  /** Failures by `_tag` (only `SessionStoreError` is acceptable, and only under faults). */
  readonly errors: Record<string, number>
  /** Failures that are not typed store errors: defects, wrong tags. Must be empty. */
  readonly unexpected: ReadonlyArray<string>
  readonly violations: ReadonlyArray<string>
  readonly interrupted: number
  readonly resolvedApplied: number
  readonly resolvedNotApplied: number
  readonly itemsAcknowledged: number
  readonly itemsStored: number
  readonly lost: number
  readonly duplicated: number
  readonly p50: number
  readonly p99: number
  readonly max: number
  readonly seconds: number
  readonly peakSample: number
}

const defaultMix: Record<OpKind, number> = { add: 45, get: 35, pop: 15, clear: 5 }

const pick = (mix: Record<OpKind, number>): OpKind => {
  const total = mix.add + mix.get + mix.pop + mix.clear
  let r = Math.random() * total
  for (const kind of ["add", "get", "pop", "clear"] as const) {
    r -= mix[kind]
    if (r < 0) return kind
  }
  return "get"
}

/** Reads a session back, retrying while the database is unreachable (faults are being injected). */
export const readBack = (sessionId: string) =>
  Effect.flatMap(SessionStore, (store) => store.getItems(sessionId)).pipe(
    Effect.retry(Schedule.spaced(Duration.millis(50)).pipe(Schedule.intersect(Schedule.recurs(400))))
  )

const describeCause = (cause: Cause.Cause<unknown>): string => Cause.pretty(cause).split("\n").slice(0, 3).join(" | ")

/** Exact model under load: each session has one logical writer at a time (a lock in the test). */
export const runExactLoad = (options: LoadOptions) =>
  Effect.gen(function*() {
    const store = yield* SessionStore
    const mix = options.mix ?? defaultMix
    const maxBatch = options.maxBatch ?? 5
    const model = new ExactModel()
    const ids = Array.from({ length: options.sessions }, (_, i) => `${options.prefix}-${i}`)
    const locks = yield* Effect.forEach(ids, () => Effect.makeSemaphore(1))
    const latencies: Array<number> = []
    const byKind: Record<OpKind, number> = { add: 0, get: 0, pop: 0, clear: 0 }
    const errors: Record<string, number> = {}
    const unexpected: Array<string> = []
    let interrupted = 0
    let next = 0
    let peakSample = 0
    let sampling = true

    const classify = (sessionId: string, kind: OpKind, cause: Cause.Cause<unknown>): "typed" | "interrupted" | "bad" => {
      if (Cause.isInterruptedOnly(cause)) return "interrupted"
      const failure = Cause.failureOption(cause)
      if (Option.isSome(failure) && !Cause.isDie(cause)) {
        const tag = (failure.value as { _tag?: string })._tag ?? "untagged"
        errors[tag] = (errors[tag] ?? 0) + 1
        if (tag === "SessionStoreError" && options.faults) return "typed"
      }
      unexpected.push(`${kind} ${sessionId}: ${describeCause(cause)}`)
      return "bad"
    }

    const mutationEffect = (sessionId: string, mutation: Mutation): Effect.Effect<Option.Option<Item> | void, unknown> =>
      mutation._tag === "add"
        ? store.addItems(sessionId, mutation.items)
        : mutation._tag === "pop"
        ? store.popItem(sessionId)
        : store.clearSession(sessionId)

    const runMutation = (sessionId: string, mutation: Mutation) =>
      Effect.gen(function*() {
        const interrupt = options.interruptShare !== undefined && Math.random() < options.interruptShare
        const start = performance.now()
        let exit: Exit.Exit<Option.Option<Item> | void, unknown>
        if (interrupt) {
          const fiber = yield* Effect.fork(mutationEffect(sessionId, mutation))
          // A third are interrupted at once (before the fiber ran), a third after one yield, the
          // rest after a random delay: SQLite's synchronous driver only offers the first two.
          const r = Math.random()
          if (r < 0.33) {
            // no yield: interrupt before the forked fiber starts
          } else if (r < 0.66) yield* Effect.yieldNow()
          else yield* Effect.sleep(Duration.millis(Math.random() * (options.interruptMaxMs ?? 5)))
          exit = yield* Fiber.interrupt(fiber)
        } else {
          exit = yield* Effect.exit(mutationEffect(sessionId, mutation))
        }
        latencies.push(performance.now() - start)
        if (Exit.isSuccess(exit)) {
          const popped = mutation._tag === "pop" ? Option.getOrUndefined(exit.value as Option.Option<Item>) : undefined
          model.acknowledge(sessionId, mutation, popped)
          return
        }
        const kind = classify(sessionId, mutation._tag, exit.cause)
        if (kind === "interrupted") interrupted++
        // Failed or interrupted: it happened entirely or not at all. The database decides which.
        const stored = yield* readBack(sessionId).pipe(Effect.either)
        if (stored._tag === "Left") {
          unexpected.push(`${sessionId}: could not read back after ${mutation._tag}: ${String(stored.left)}`)
          return
        }
        model.resolve(sessionId, mutation, stored.right)
      })

    const oneOp = (index: number) =>
      Effect.gen(function*() {
        const s = Math.floor(Math.random() * ids.length)
        const sessionId = ids[s]!
        const kind = pick(mix)
        byKind[kind]++
        yield* locks[s]!.withPermits(1)(
          Effect.gen(function*() {
            if (kind === "get") {
              const limit = Math.random() < 0.5 ? undefined : Math.floor(Math.random() * 6)
              const start = performance.now()
              const exit = yield* Effect.exit(store.getItems(sessionId, limit))
              latencies.push(performance.now() - start)
              if (Exit.isFailure(exit)) {
                classify(sessionId, kind, exit.cause)
                return
              }
              const history = model.history(sessionId)
              const expected = limit === undefined ? history : limit <= 0 ? [] : history.slice(-limit)
              const got = exit.value.map((x) => String(x.k)).join(",")
              const want = expected.map((x) => String(x.k)).join(",")
              if (got !== want) model.violations.push(`${sessionId}: getItems(${limit}) #${index} = [${got}], model [${want}]`)
              return
            }
            const mutation: Mutation = kind === "add"
              ? { _tag: "add", items: makeBatch(sessionId, 1 + Math.floor(Math.random() * maxBatch)) }
              : kind === "pop"
              ? { _tag: "pop" }
              : { _tag: "clear" }
            yield* runMutation(sessionId, mutation)
          })
        )
      })

    const worker = Effect.gen(function*() {
      while (next < options.operations) {
        yield* oneOp(next++)
      }
    })

    const sampler = options.sample
      ? Effect.promise(async () => {
        while (sampling) {
          peakSample = Math.max(peakSample, await options.sample!().catch(() => 0))
          await new Promise((r) => setTimeout(r, 100))
        }
      })
      : Effect.void

    const started = performance.now()
    const samplerFiber = yield* Effect.fork(sampler)
    yield* Effect.all(Array.from({ length: options.concurrency }, () => worker), {
      concurrency: "unbounded",
      discard: true
    })
    const seconds = (performance.now() - started) / 1000
    sampling = false
    yield* Fiber.join(samplerFiber)

    // Every session, touched or not, must equal the model.
    let lost = 0
    let duplicated = 0
    let itemsStored = 0
    yield* Effect.forEach(ids, (sessionId) =>
      Effect.gen(function*() {
        const stored = yield* readBack(sessionId)
        itemsStored += stored.length
        const diff = model.compare(sessionId, stored, "final history")
        lost += diff.lost
        duplicated += diff.duplicated
      }), { concurrency: 8, discard: true })

    const itemsAcknowledged = ids.reduce((n, id) => n + model.history(id).length, 0)
    return {
      stats: {
        operations: options.operations,
        byKind,
        errors,
        unexpected,
        violations: model.violations,
        interrupted,
        resolvedApplied: model.resolvedApplied,
        resolvedNotApplied: model.resolvedNotApplied,
        itemsAcknowledged,
        itemsStored,
        lost,
        duplicated,
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        max: percentile(latencies, 100),
        seconds,
        peakSample
      } satisfies LoadStats,
      model,
      ids
    }
  })

export interface ContendedStats {
  readonly operations: number
  readonly sessions: number
  readonly concurrency: number
  readonly errors: Record<string, number>
  readonly unexpected: ReadonlyArray<string>
  readonly violations: ReadonlyArray<string>
  readonly pops: number
  readonly snapshots: number
  readonly lost: number
  readonly duplicated: number
  readonly p99: number
}

/**
 * No lock: all fibers hammer a few hot sessions at once with add / pop / get. Checked with
 * properties that hold under any interleaving.
 */
export const runContendedLoad = (options: {
  readonly prefix: string
  readonly sessions: number
  readonly concurrency: number
  readonly operations: number
}) =>
  Effect.gen(function*() {
    const store = yield* SessionStore
    const ids = Array.from({ length: options.sessions }, (_, i) => `${options.prefix}-hot-${i}`)
    const added = new Map<string, Array<Array<TestItem>>>(ids.map((id) => [id, []]))
    const acknowledged = new Set<number>()
    const popped = new Map<string, Array<Item>>(ids.map((id) => [id, []]))
    const errors: Record<string, number> = {}
    const unexpected: Array<string> = []
    const violations: Array<string> = []
    const latencies: Array<number> = []
    let pops = 0
    let snapshots = 0
    let next = 0

    const timed = <A, E>(effect: Effect.Effect<A, E>) =>
      Effect.gen(function*() {
        const start = performance.now()
        const exit = yield* Effect.exit(effect)
        latencies.push(performance.now() - start)
        if (Exit.isFailure(exit)) {
          const failure = Cause.failureOption(exit.cause)
          const tag = Option.isSome(failure) ? (failure.value as { _tag?: string })._tag ?? "untagged" : "defect"
          errors[tag] = (errors[tag] ?? 0) + 1
          unexpected.push(describeCause(exit.cause))
        }
        return exit
      })

    const worker = Effect.gen(function*() {
      while (next < options.operations) {
        next++
        const sessionId = ids[Math.floor(Math.random() * ids.length)]!
        const r = Math.random()
        if (r < 0.5) {
          const batch = makeBatch(sessionId, 1 + Math.floor(Math.random() * 6))
          added.get(sessionId)!.push(batch)
          const exit = yield* timed(store.addItems(sessionId, batch))
          if (Exit.isSuccess(exit)) acknowledged.add(batch[0]!.b)
        } else if (r < 0.75) {
          const exit = yield* timed(store.popItem(sessionId))
          if (Exit.isSuccess(exit) && Option.isSome(exit.value)) {
            pops++
            popped.get(sessionId)!.push(exit.value.value)
          }
        } else {
          const exit = yield* timed(store.getItems(sessionId))
          if (Exit.isSuccess(exit)) {
            snapshots++
            // A snapshot taken mid-load: no duplicates, every batch a contiguous prefix of itself.
            const check = checkContended({
              stored: exit.value,
              added: added.get(sessionId)!,
              acknowledged,
              popped: [],
              conservation: false
            })
            for (const v of check.violations) violations.push(`${sessionId} snapshot: ${v}`)
          }
        }
      }
    })

    yield* Effect.all(Array.from({ length: options.concurrency }, () => worker), {
      concurrency: "unbounded",
      discard: true
    })

    let lost = 0
    let duplicated = 0
    for (const sessionId of ids) {
      const stored = yield* store.getItems(sessionId)
      const check = checkContended({
        stored,
        added: added.get(sessionId)!,
        acknowledged,
        popped: popped.get(sessionId)!,
        conservation: true
      })
      lost += check.lost
      duplicated += check.duplicated
      for (const v of check.violations) violations.push(`${sessionId} final: ${v}`)
    }
    // Pops are distinct across sessions too (keys are globally unique).
    const allPopped = [...popped.values()].flat().map((x) => String(x.k))
    if (new Set(allPopped).size !== allPopped.length) violations.push("an item was returned by two pops")

    return {
      operations: options.operations,
      sessions: options.sessions,
      concurrency: options.concurrency,
      errors,
      unexpected,
      violations,
      pops,
      snapshots,
      lost,
      duplicated,
      p99: percentile(latencies, 99)
    } satisfies ContendedStats
  })
