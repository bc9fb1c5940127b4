/**
 * The natural-batching suite: one function of a database, run on SQLite, PostgreSQL and MariaDB.
 * Every test that claims batching checks, through the batch-size histogram or the spans, that
 * combined statements really formed, so it cannot pass with batching silently off.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import { Deferred, Duration, Effect, Either, Exit, Fiber, Metric, Option, TestServices } from "effect"
import * as vitest from "vitest"
import {
  InvalidArgumentError,
  type Item,
  SessionMetrics,
  SessionStore,
  SessionStoreError,
  SqlSessionStore
} from "../../src/index.js"
import { type TestDatabase, uniqueId, uniqueTable } from "../support/databases.js"
import { recordSpans } from "../support/spans.js"
import { countMessages, countSessions, insertRaw, measured, storedTexts, storeOnOwnTables } from "./support.js"

const range = (n: number) => Array.from({ length: n }, (_, index) => index)

/**
 * Starts `call` while every slot is busy, interrupts it as it waits in the queue, then opens
 * `release` (what keeps the slots busy) and returns how the call ended.
 */
const interruptWhileQueued = <A, E>(call: Effect.Effect<A, E>, release: Deferred.Deferred<void>) =>
  Effect.gen(function*() {
    const queued = yield* Effect.fork(call)
    yield* TestServices.provideLive(Effect.sleep(Duration.millis(100)))
    // Not awaited yet: a call already in flight would wait for the lock before honouring it.
    yield* Fiber.interruptFork(queued)
    yield* TestServices.provideLive(Effect.sleep(Duration.millis(100)))
    yield* Deferred.succeed(release, undefined)
    return yield* Fiber.await(queued)
  })

const item = (call: string, index: number): Item => ({ role: "user", content: `${call}#${index}` })

export const batchingSuite = (db: TestDatabase) => {
  if (db.unavailable !== undefined) {
    describe.skip(`natural batching on ${db.label} (skipped: ${db.unavailable})`, () => {
      vitest.it("batching suite", () => {})
    })
    return
  }

  const { layer: StoreLive, tables } = storeOnOwnTables(db, "batch")
  // Pops combine on PostgreSQL and SQLite (docs/batching.md).
  const popsBatch = db.dialect !== "mysql"
  const texts = (sessionId: string) => storedTexts(sessionId, tables.messagesTable)
  const contents = (sessionId: string) =>
    Effect.map(texts(sessionId), (rows) => rows.map((text) => (JSON.parse(text) as { content: string }).content))

  layer(StoreLive, { timeout: Duration.seconds(120) })(`natural batching on ${db.label}`, (it) => {
    it.effect("keeps every call whole, contiguous and in order, on many sessions and one hot session", () =>
      Effect.gen(function*() {
        const store = yield* SessionStore
        const sessions = range(12).map(() => uniqueId("many"))
        const hot = uniqueId("hot")
        // 24 fibers, each making 6 calls one after the other, alternating the hot session and its own.
        const { statements, requests } = yield* measured(
          "addItems",
          Effect.forEach(
            range(24),
            (fiber) =>
              Effect.forEach(
                range(6),
                (call) => {
                  const key = `${fiber}.${call}`
                  return store.addItems(call % 2 === 0 ? hot : sessions[fiber % 12]!, range(3).map((i) => item(key, i)))
                },
                { discard: true }
              ),
            { concurrency: "unbounded", discard: true }
          )
        )
        // Batches formed: fewer statements than calls.
        expect(requests).toBe(24 * 6)
        expect(statements).toBeLessThan(requests)

        const seen = new Set<string>()
        for (const sessionId of [hot, ...sessions]) {
          const stored = yield* contents(sessionId)
          expect(stored.length % 3).toBe(0)
          const lastCallOf = new Map<number, number>()
          for (let row = 0; row < stored.length; row += 3) {
            const key = stored[row]!.split("#")[0]!
            // Whole, contiguous and in order.
            expect(stored.slice(row, row + 3)).toEqual(range(3).map((i) => `${key}#${i}`))
            expect(seen.has(key)).toBe(false)
            seen.add(key)
            // A fiber's calls, made one after the other, are stored in that order.
            const [fiber, call] = key.split(".").map(Number) as [number, number]
            expect(call).toBeGreaterThan(lastCallOf.get(fiber) ?? -1)
            lastCallOf.set(fiber, call)
          }
        }
        expect(seen.size).toBe(24 * 6)
      }))

    it.effect("keeps queue order for the calls on one session that share a statement", () =>
      Effect.gen(function*() {
        // One slot: call 0 goes alone, calls 1-19 queue in order and share the next statement.
        const store = yield* SqlSessionStore.make({ ...tables, batchConcurrency: 1 })
        const id = uniqueId("queue")
        const { requests, statements } = yield* measured(
          "addItems",
          Effect.forEach(range(20), (n) => store.addItems(id, [item(`c${n}`, 0), item(`c${n}`, 1)]), {
            concurrency: "unbounded",
            discard: true
          })
        )
        expect(requests).toBe(20)
        expect(statements).toBe(2)
        expect(yield* contents(id)).toEqual(range(20).flatMap((n) => [`c${n}#0`, `c${n}#1`]))
      }))

    it.effect("never combines a heavy call: it runs alone, through the single path", () =>
      Effect.gen(function*() {
        const store = yield* SqlSessionStore.make({ ...tables, batchConcurrency: 1 })
        const heavy = uniqueId("heavy")
        const light = range(10).map(() => uniqueId("light"))
        const { spans } = yield* recordSpans(
          Effect.forEach(
            [...light.slice(0, 5), heavy, ...light.slice(5)],
            (id) => store.addItems(id, id === heavy ? range(5000).map((i) => item("h", i)) : [item(id, 0)]),
            { concurrency: "unbounded", discard: true }
          )
        )
        const sizeOf = (id: string) =>
          spans.find((span) => span.name === "SessionStore.addItems" && span.attributes.get("session.id") === id)
            ?.attributes.get("session.batch_size")
        expect(sizeOf(heavy)).toBe(1)
        // The light calls queued behind it still shared statements.
        expect(Math.max(...light.map((id) => sizeOf(id) as number))).toBeGreaterThan(1)
        expect(yield* countMessages(heavy, tables.messagesTable)).toBe(5000)
      }))

    it.effect("reads the newest items of many sessions at once (combined on PostgreSQL), paging past corrupt rows", () =>
      Effect.gen(function*() {
        const store = yield* SessionStore
        const sessions = range(10).map(() => uniqueId("read"))
        yield* Effect.forEach(sessions, (id, s) => store.addItems(id, range(5).map((i) => item(`r${s}`, i))), {
          discard: true
        })
        // The newest rows of this one cannot be decoded: its read pages on, past them.
        const corrupt = uniqueId("corrupt")
        yield* store.addItems(corrupt, [item("c", 0), item("c", 1)])
        yield* insertRaw(corrupt, "not json {", tables.messagesTable, tables.sessionsTable)
        yield* insertRaw(corrupt, "not json {", tables.messagesTable, tables.sessionsTable)
        const empty = uniqueId("empty")

        const reads = [...range(40).map((n) => sessions[n % 10]!), corrupt, empty]
        const { result, statements, requests } = yield* measured(
          "getItems",
          Effect.forEach(reads, (id) => store.getItems(id, 3), { concurrency: "unbounded" })
        )
        if (db.dialect === "pg") {
          expect(requests).toBe(reads.length)
          expect(statements).toBeLessThan(requests)
        } else {
          // Reads batch on PostgreSQL only (measured: see docs/batching.md).
          expect(requests).toBe(0)
        }
        result.forEach((items, n) => {
          const id = reads[n]!
          const expected = id === corrupt
            ? ["c#0", "c#1"]
            : id === empty
            ? []
            : [2, 3, 4].map((i) => `r${sessions.indexOf(id)}#${i}`)
          expect(items.map((entry) => entry.content)).toEqual(expected)
        })
      }))

    it.effect("pops every item exactly once under concurrent pops (combined on PostgreSQL and SQLite)", () =>
      Effect.gen(function*() {
        const store = yield* SessionStore
        const sessions = range(12).map(() => uniqueId("pop"))
        yield* Effect.forEach(sessions, (id, s) => store.addItems(id, range(6).map((i) => item(`q${s}`, i))), {
          discard: true
        })
        // Eight concurrent pops per session, for six items: every item once, then nothing.
        const pops = range(12 * 8).map((n) => sessions[n % 12]!)
        const { requests, result: popped, statements } = yield* measured(
          "popItem",
          Effect.forEach(pops, (id) => store.popItem(id), { concurrency: "unbounded" })
        )
        if (popsBatch) expect(statements).toBeLessThan(requests)
        else expect(statements).toBe(0)
        for (const [s, id] of sessions.entries()) {
          const mine = popped.flatMap((result, n) => pops[n] === id && Option.isSome(result) ? [result.value.content] : [])
          expect([...mine].sort()).toEqual(range(6).map((i) => `q${s}#${i}`))
          expect(yield* countMessages(id, tables.messagesTable)).toBe(0)
        }
      }))

    it.effect("combined pops, like single ones, leave rows the Python SDK can read in place", () =>
      Effect.gen(function*() {
        const store = yield* SessionStore
        const sessions = range(8).map(() => uniqueId("pypop"))
        // Each session: two items, then a top-level number on top (Python reads it; we skip it).
        for (const [s, id] of sessions.entries()) {
          yield* store.addItems(id, [item(`p${s}`, 0), item(`p${s}`, 1)])
          yield* insertRaw(id, "42", tables.messagesTable, tables.sessionsTable)
        }
        const pops = range(8 * 3).map((n) => sessions[n % 8]!)
        const { requests, result: popped, statements } = yield* measured(
          "popItem",
          Effect.forEach(pops, (id) => store.popItem(id), { concurrency: "unbounded" })
        )
        if (popsBatch) expect(statements).toBeLessThan(requests)
        for (const [s, id] of sessions.entries()) {
          const mine = popped.flatMap((result, n) => pops[n] === id && Option.isSome(result) ? [result.value.content] : [])
          expect([...mine].sort()).toEqual([`p${s}#0`, `p${s}#1`])
          expect(yield* texts(id)).toEqual(["42"])
        }
      }))

    it.effect("clears many sessions at once (combined on SQLite): each counted, its operations gone, bystanders kept", () =>
      Effect.gen(function*() {
        const store = yield* SessionStore
        // Sessions of 0 to 5 items, each with one applied history operation; one bystander.
        const sessions = range(18).map(() => uniqueId("clear"))
        for (const [s, id] of sessions.entries()) {
          const items = range(s % 6).map((i) => item(`k${s}`, i))
          yield* store.applyHistoryTransaction(id, {
            operationId: `op-${s}`,
            transaction: { type: "append_items", items: [...items, item(`op${s}`, 0)] }
          })
        }
        const bystander = uniqueId("bystander")
        yield* store.addItems(bystander, [item("by", 0), item("by", 1)])
        // Every session cleared twice at once: one of the two finds it empty.
        const clears = [...sessions, ...sessions]
        const { result: { spans }, requests, statements } = yield* measured(
          "clearSession",
          recordSpans(Effect.forEach(clears, (id) => store.clearSession(id), { concurrency: "unbounded" }))
        )
        if (db.dialect === "sqlite") {
          expect(requests).toBe(clears.length)
          expect(statements).toBeLessThan(requests)
        } else {
          expect(statements).toBe(0)
        }
        const clearSpans = spans.filter((span) => span.name === "SessionStore.clearSession")
        expect(clearSpans.length).toBe(clears.length)
        for (const [s, id] of sessions.entries()) {
          const counts = clearSpans
            .filter((span) => span.attributes.get("session.id") === id)
            .map((span) => span.attributes.get("session.items"))
          expect([...counts].sort()).toEqual([0, (s % 6) + 1])
          expect(yield* countMessages(id, tables.messagesTable)).toBe(0)
          expect(yield* countSessions(id, tables.sessionsTable)).toBe(0)
        }
        expect(yield* contents(bystander)).toEqual(["by#0", "by#1"])
        // The operations went with the sessions: applying one again applies it afresh.
        yield* Effect.forEach(sessions, (id, s) =>
          store.applyHistoryTransaction(id, {
            operationId: `op-${s}`,
            transaction: { type: "append_items", items: [item(`again${s}`, 0)] }
          }), { concurrency: "unbounded", discard: true })
        for (const [s, id] of sessions.entries()) expect(yield* contents(id)).toEqual([`again${s}#0`])
      }))

    it.effect("clears racing appends on the same sessions: every call applied whole or not at all", () =>
      Effect.gen(function*() {
        const store = yield* SessionStore
        const sessions = range(6).map(() => uniqueId("race"))
        yield* Effect.forEach(sessions, (id) => store.addItems(id, [item("seed", 0), item("seed", 1)]), {
          discard: true
        })
        // Per session eight calls at once: appends of three items, the third and sixth a clear.
        const calls = range(6 * 8).map((n) => ({ id: sessions[n % 6]!, call: `a${n}`, clear: Math.floor(n / 6) % 3 === 2 }))
        // The retry counter is tagged by operation.
        const retries = Effect.map(
          Effect.all(["addItems", "clearSession"].map((operation) =>
            Metric.value(Metric.tagged(SessionMetrics.retries, "operation", operation))
          )),
          (states) => ({ count: states.reduce((sum, state) => sum + state.count, 0) })
        )
        const retriesBefore = (yield* retries).count
        // With the live clock, so that a retried deadlock fails the check below rather than hang.
        yield* TestServices.provideLive(Effect.forEach(
          calls,
          ({ call, clear, id }) => clear ? store.clearSession(id) : store.addItems(id, range(3).map((i) => item(call, i))),
          { concurrency: "unbounded", discard: true }
        ))
        // No deadlock to break: clears lock the session row first, as appends do (on MariaDB, clears
        // that deleted the messages first deadlocked with appends, a few times a run).
        expect((yield* retries).count - retriesBefore).toBe(0)
        for (const id of sessions) {
          const stored = yield* contents(id)
          // A clear came after the seed; what is left is appends after the last clear, each whole,
          // its items adjacent and in order, each once.
          expect(stored.length % 3).toBe(0)
          const seen = new Set<string>()
          for (let index = 0; index < stored.length; index += 3) {
            const call = stored[index]!.split("#")[0]!
            expect(call).not.toBe("seed")
            expect(seen.has(call)).toBe(false)
            seen.add(call)
            expect(stored.slice(index, index + 3)).toEqual(range(3).map((i) => `${call}#${i}`))
          }
          expect(yield* countSessions(id, tables.sessionsTable)).toBe(stored.length > 0 ? 1 : 0)
        }
      }))

    it.effect("never applies a clear interrupted while it waits in the queue (SQLite, where clears batch)", () =>
      Effect.gen(function*() {
        if (db.dialect !== "sqlite") return
        const store = yield* SessionStore
        const sql = yield* SqlClient.SqlClient
        const victim = uniqueId("victim")
        yield* store.addItems(victim, [item("keep", 0)])
        const release = yield* Deferred.make<void>()
        const locked = yield* Deferred.make<void>()
        // A transaction holds the only connection; the slot's call waits behind it, the rest queue.
        const holder = yield* sql.withTransaction(
          Deferred.succeed(locked, undefined).pipe(Effect.zipRight(Deferred.await(release)))
        ).pipe(Effect.fork)
        yield* Deferred.await(locked)
        const first = yield* Effect.fork(store.clearSession(uniqueId("first")))
        yield* TestServices.provideLive(Effect.sleep(Duration.millis(100)))
        const interrupted = yield* interruptWhileQueued(store.clearSession(victim), release)
        yield* Fiber.join(holder)
        yield* Fiber.join(first)
        expect(Exit.isInterrupted(interrupted)).toBe(true)
        expect(yield* contents(victim)).toEqual(["keep#0"])
      }))

    it.effect("fails only the call the database rejects; the rest of its batch is stored", () =>
      Effect.gen(function*() {
        const store = yield* SessionStore
        const sql = (yield* SqlClient.SqlClient).withoutTransforms()
        const messages = sql(tables.messagesTable)
        const trigger = uniqueTable("poison")
        // A genuine per-request failure at the database: rows containing "poison" are refused.
        yield* sql.onDialectOrElse({
          pg: () =>
            sql`ALTER TABLE ${messages} ADD CONSTRAINT ${sql(trigger)} CHECK (message_data NOT LIKE '%poison%')`,
          mysql: () =>
            sql`ALTER TABLE ${messages} ADD CONSTRAINT ${sql(trigger)} CHECK (message_data NOT LIKE '%poison%')`,
          orElse: () =>
            sql`CREATE TRIGGER ${sql(trigger)} BEFORE INSERT ON ${messages}
              WHEN NEW.message_data LIKE '%poison%' BEGIN SELECT RAISE(ABORT, 'poisoned'); END`
        })
        const undo = sql.onDialectOrElse({
          sqlite: () => sql`DROP TRIGGER ${sql(trigger)}`,
          mysql: () => sql`ALTER TABLE ${messages} DROP CONSTRAINT ${sql(trigger)}`,
          orElse: () => sql`ALTER TABLE ${messages} DROP CONSTRAINT ${sql(trigger)}`
        })
        const sessions = range(30).map(() => uniqueId("poison"))
        const poisoned = (n: number) => n % 7 === 3
        const { result, statements, requests } = yield* measured(
          "addItems",
          Effect.forEach(
            sessions,
            (id, n) =>
              Effect.either(
                store.addItems(id, poisoned(n) ? [item(`p${n}`, 0), { role: "user", content: "poison" }] : [item(`p${n}`, 0)])
              ),
            { concurrency: "unbounded" }
          )
        ).pipe(Effect.ensuring(Effect.orDie(undo)))
        // Some statement carried several calls (and the split ones ran again).
        expect(statements).toBeGreaterThan(0)
        expect(requests - statements).toBeGreaterThan(0)
        for (const [n, id] of sessions.entries()) {
          const outcome = result[n]!
          if (poisoned(n)) {
            expect(Either.isLeft(outcome) && outcome.left).toBeInstanceOf(SessionStoreError)
            expect(yield* countMessages(id, tables.messagesTable)).toBe(0)
          } else {
            expect(Either.isRight(outcome)).toBe(true)
            expect(yield* contents(id)).toEqual([`p${n}#0`])
          }
        }
      }))

    it.effect("never applies a call interrupted while it waits in the queue", () =>
      Effect.gen(function*() {
        const store = yield* SessionStore
        const sql = yield* SqlClient.SqlClient
        const blocked = uniqueId("blocked")
        const victim = uniqueId("victim")
        const release = yield* Deferred.make<void>()
        const locked = yield* Deferred.make<void>()
        // A transaction holds the blocked session's row (and, on SQLite, the only connection).
        const holder = yield* sql.withTransaction(
          store.addItems(blocked, [item("lock", 0)]).pipe(
            Effect.zipRight(Deferred.succeed(locked, undefined)),
            Effect.zipRight(Deferred.await(release))
          )
        ).pipe(Effect.fork)
        yield* Deferred.await(locked)
        // More calls than there are connections: every slot is taken, the rest queue.
        const blockers = yield* Effect.forEach(
          range(10),
          (n) => Effect.fork(store.addItems(blocked, [item(`b${n}`, 0)])),
          { concurrency: "unbounded" }
        )
        yield* TestServices.provideLive(Effect.sleep(Duration.millis(300)))
        const interrupted = yield* interruptWhileQueued(store.addItems(victim, [item("victim", 0)]), release)
        yield* Fiber.join(holder)
        yield* Fiber.joinAll(blockers)
        expect(Exit.isInterrupted(interrupted)).toBe(true)
        expect(yield* countMessages(victim, tables.messagesTable)).toBe(0)
        expect(yield* countMessages(blocked, tables.messagesTable)).toBe(11)
      }))

    it.effect("runs unbatched inside the caller's transaction, and rolls back with it", () =>
      Effect.gen(function*() {
        const store = yield* SessionStore
        const sql = yield* SqlClient.SqlClient
        const rolledBack = uniqueId("rollback")
        const committed = uniqueId("commit")
        const { result, spans } = yield* recordSpans(
          Effect.all([
            sql.withTransaction(
              store.addItems(rolledBack, [item("t", 0)]).pipe(
                Effect.zipRight(store.getItems(rolledBack, 5)),
                Effect.tap(() => Effect.fail("roll back" as const))
              )
            ).pipe(Effect.flip),
            sql.withTransaction(
              Effect.zipRight(store.addItems(committed, [item("t", 0)]), store.addItems(committed, [item("t", 1)]))
            ),
            // Concurrent batched traffic: the queue is not empty while the transactions run.
            Effect.forEach(range(20), (n) => store.addItems(uniqueId("side"), [item(`s${n}`, 0)]), {
              concurrency: "unbounded",
              discard: true
            })
          ], { concurrency: "unbounded" })
        )
        expect(result[0]).toBe("roll back")
        expect(yield* countMessages(rolledBack, tables.messagesTable)).toBe(0)
        expect(yield* contents(committed)).toEqual(["t#0", "t#1"])
        const inTransaction = spans.filter((span) =>
          span.name.startsWith("SessionStore.") &&
          [rolledBack, committed].includes(span.attributes.get("session.id") as string)
        )
        expect(inTransaction.length).toBe(4)
        for (const span of inTransaction) expect(span.attributes.has("session.batch_size")).toBe(false)
      }))

    it.effect("gives every caller's span the size of the statement that carried it", () =>
      Effect.gen(function*() {
        const store = yield* SessionStore
        const { spans } = yield* recordSpans(
          Effect.forEach(range(24), (n) => store.addItems(uniqueId("span"), [item(`x${n}`, 0)]), {
            concurrency: "unbounded",
            discard: true
          })
        )
        const sizes = spans
          .filter((span) => span.name === "SessionStore.addItems")
          .map((span) => span.attributes.get("session.batch_size"))
        expect(sizes.length).toBe(24)
        for (const size of sizes) expect(size).toBeTypeOf("number")
        expect(Math.max(...(sizes as Array<number>))).toBeGreaterThan(1)
      }))

    it.effect("with batching: false, sends one statement (or transaction) per call", () =>
      Effect.gen(function*() {
        const unbatched = yield* SqlSessionStore.make({ ...tables, batching: false })
        const batched = yield* SessionStore
        const calls = (store: SessionStore["Type"]) =>
          recordSpans(
            Effect.forEach(range(20), (n) => store.addItems(uniqueId("off"), [item(`o${n}`, 0)]), {
              concurrency: "unbounded",
              discard: true
            })
          ).pipe(Effect.map(({ spans }) => spans.filter((span) => span.name === "sql.execute").length))
        const perCall = db.dialect === "pg" ? 1 : 2
        const off = yield* measured("addItems", calls(unbatched))
        expect(off.result).toBe(20 * perCall)
        expect(off.statements).toBe(0)
        const on = yield* calls(batched)
        expect(on).toBeLessThan(20 * perCall)
      }))

    it.effect("rejects invalid batching options", () =>
      Effect.gen(function*() {
        for (const options of [
          { maxBatchSize: 0 },
          { maxBatchSize: 1.5 },
          { batchConcurrency: 0 },
          { batchConcurrency: Number.NaN },
          { batching: "yes" as unknown as boolean }
        ]) {
          const error = yield* Effect.flip(SqlSessionStore.make({ ...tables, ...options }))
          expect(error).toBeInstanceOf(InvalidArgumentError)
        }
        // maxBatchSize 1: every statement carries one call.
        const single = yield* SqlSessionStore.make({ ...tables, maxBatchSize: 1 })
        const { requests, statements } = yield* measured(
          "addItems",
          Effect.forEach(range(12), (n) => single.addItems(uniqueId("one"), [item(`one${n}`, 0)]), {
            concurrency: "unbounded",
            discard: true
          })
        )
        expect(statements).toBe(12)
        expect(requests).toBe(12)
        expect(Option.isNone(yield* single.popItem(uniqueId("none")))).toBe(true)
      }))
  })
}
