/**
 * The behaviour suite of the session store: one function of a database, run on SQLite,
 * PostgreSQL and MariaDB. Every test uses its own session ids, and checks the stored rows with
 * raw SQL where that is what the guarantee is about.
 */
import { SqlClient } from "@effect/sql"
import { assert, describe, expect, layer } from "@effect/vitest"
import * as vitest from "vitest"
import { Duration, Effect, Either, Fiber, Layer, Option } from "effect"
import {
  HistoryConflictError,
  InvalidArgumentError,
  InvalidItemError,
  type Item,
  SessionStore,
  SqlSessionStore
} from "../../src/index.js"
import { type TestDatabase, uniqueId, uniqueTable } from "../support/databases.js"
import { countMessages, countSessions, insertRaw, sessionTimes, storedTexts } from "./support.js"
import { edgeTests } from "./edges.js"

const msg = (n: number, extra: Record<string, unknown> = {}): Item => ({ role: "user", content: `m${n}`, ...extra })

export const behaviourSuite = (db: TestDatabase) => {
  if (db.unavailable !== undefined) {
    describe.skip(`SessionStore on ${db.label} (skipped: ${db.unavailable})`, () => {
      // The reason is printed once by test/support/databases.ts.
      vitest.it("behaviour suite", () => {})
    })
    return
  }

  const StoreLive = SqlSessionStore.layer({ createTables: true }).pipe(Layer.provideMerge(db.layer))

  layer(StoreLive, { timeout: Duration.seconds(60) })(`SessionStore on ${db.label}`, (it) => {
    edgeTests(it)

    describe("order", () => {
      it.effect("returns history in insertion order across batches", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const id = uniqueId()
          yield* store.addItems(id, [msg(1), msg(2)])
          yield* store.addItems(id, [msg(3)])
          yield* store.addItems(id, [msg(4), msg(5), msg(6)])
          const items = yield* store.getItems(id)
          expect(items.map((item) => item.content)).toEqual(["m1", "m2", "m3", "m4", "m5", "m6"])
        }))

      it.effect("orders by id, never by timestamp", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const sql = yield* SqlClient.SqlClient
          const id = uniqueId()
          yield* store.addItems(id, [msg(1), msg(2), msg(3)])
          // Give the newest row the oldest timestamp and the oldest row the newest.
          yield* sql`UPDATE agent_messages SET created_at = ${"2001-01-01 00:00:00"}
            WHERE session_id = ${id} AND message_data LIKE ${"%m3%"}`
          yield* sql`UPDATE agent_messages SET created_at = ${"2030-01-01 00:00:00"}
            WHERE session_id = ${id} AND message_data LIKE ${"%m1%"}`
          expect((yield* store.getItems(id)).map((item) => item.content)).toEqual(["m1", "m2", "m3"])
          expect((yield* store.getItems(id, 2)).map((item) => item.content)).toEqual(["m2", "m3"])
          expect(Option.getOrThrow(yield* store.popItem(id)).content).toBe("m3")
        }))
    })

    describe("limit", () => {
      it.effect("returns the newest n items, oldest first", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const id = uniqueId()
          yield* store.addItems(id, [1, 2, 3, 4, 5].map((n) => msg(n)))
          expect((yield* store.getItems(id, 2)).map((item) => item.content)).toEqual(["m4", "m5"])
          expect((yield* store.getItems(id, 1)).map((item) => item.content)).toEqual(["m5"])
          expect((yield* store.getItems(id, 50)).map((item) => item.content)).toEqual(["m1", "m2", "m3", "m4", "m5"])
          expect(yield* store.getItems(id, 0)).toEqual([])
          expect(yield* store.getItems(id, -3)).toEqual([])
          expect(yield* store.getItems(uniqueId("empty"))).toEqual([])
          expect(yield* store.getItems(uniqueId("empty"), 5)).toEqual([])
        }))

      it.effect("rejects a non-integer limit with InvalidArgumentError", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          for (const limit of [1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
            const error = yield* Effect.flip(store.getItems(uniqueId(), limit))
            assert.instanceOf(error, InvalidArgumentError)
            expect(error.argument).toBe("limit")
          }
        }))

      it.effect("skips rows that fail to decode without counting them toward the limit", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const id = uniqueId()
          yield* store.addItems(id, [msg(1), msg(2), msg(3)])
          yield* insertRaw(id, "{not json")
          yield* insertRaw(id, "42")
          yield* store.addItems(id, [msg(4)])
          yield* insertRaw(id, "[1,2]")
          yield* insertRaw(id, "null")
          yield* insertRaw(id, "\"a string\"")
          yield* insertRaw(id, "{\"truncated\": \"te")
          expect((yield* store.getItems(id, 3)).map((item) => item.content)).toEqual(["m2", "m3", "m4"])
          expect((yield* store.getItems(id)).map((item) => item.content)).toEqual(["m1", "m2", "m3", "m4"])
          expect((yield* store.getItems(id, 10)).map((item) => item.content)).toEqual(["m1", "m2", "m3", "m4"])
        }))
    })

    describe("addItems", () => {
      it.effect("writes nothing for an empty batch, not even a session row", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const id = uniqueId()
          yield* store.addItems(id, [])
          expect(yield* countSessions(id)).toBe(0)
          expect(yield* countMessages(id)).toBe(0)
        }))

      it.effect("stores each item as one JSON row the Python SDK can read", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const id = uniqueId()
          const items = [msg(1), { type: "function_call", callId: "c1", name: "lookup", arguments: "{\"q\":1}" }]
          yield* store.addItems(id, items)
          expect((yield* storedTexts(id)).map((text) => JSON.parse(text))).toEqual(items)
          expect(yield* countSessions(id)).toBe(1)
        }))

      it.effect("fails the whole batch on one invalid item, writes nothing, and stays usable", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const id = uniqueId()
          const cyclic: Record<string, unknown> = { role: "user" }
          cyclic.self = cyclic
          const invalid: ReadonlyArray<unknown> = [
            10n,
            cyclic,
            () => 1,
            Symbol("x"),
            null,
            42,
            "text",
            [1, 2],
            { value: 10n },
            { fn: () => 1 },
            { sym: Symbol("s") },
            { when: new Date() },
            { sparse: [1, , 3] }
          ]
          for (const bad of invalid) {
            const error = yield* Effect.flip(store.addItems(id, [msg(1), bad as Item, msg(2)]))
            assert.instanceOf(error, InvalidItemError, `for ${String(typeof bad)}`)
            expect(error.index).toBe(1)
          }
          expect(yield* countMessages(id)).toBe(0)
          expect(yield* countSessions(id)).toBe(0)
          yield* store.addItems(id, [msg(3)])
          expect((yield* store.getItems(id)).map((item) => item.content)).toEqual(["m3"])
        }))

      it.effect("keeps each batch contiguous and in caller order under concurrent writers", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const id = uniqueId()
          const writers = 12
          const batch = 6
          yield* Effect.forEach(
            Array.from({ length: writers }, (_, w) => w),
            (w) => store.addItems(id, Array.from({ length: batch }, (_, i) => ({ writer: w, index: i }))),
            { concurrency: "unbounded", discard: true }
          )
          const items = yield* store.getItems(id)
          expect(items).toHaveLength(writers * batch)
          for (let start = 0; start < items.length; start += batch) {
            const run = items.slice(start, start + batch)
            expect(run.map((item) => item.writer)).toEqual(Array(batch).fill(run[0]!.writer))
            expect(run.map((item) => item.index)).toEqual([0, 1, 2, 3, 4, 5])
          }
          expect(new Set(items.map((item) => item.writer)).size).toBe(writers)
        }))

      it.effect("lets 25 concurrent first writers create the tables and a new session", () =>
        Effect.gen(function*() {
          const sessionsTable = uniqueTable("fw_sessions")
          const messagesTable = uniqueTable("fw_messages")
          const operationsTable = uniqueTable("fw_ops")
          const id = uniqueId()
          yield* Effect.forEach(
            Array.from({ length: 25 }, (_, n) => n),
            (n) =>
              Effect.flatMap(
                SqlSessionStore.make({ createTables: true, sessionsTable, messagesTable, operationsTable }),
                (store) => store.addItems(id, [msg(n)])
              ),
            { concurrency: "unbounded", discard: true }
          )
          expect(yield* countMessages(id, messagesTable)).toBe(25)
          expect(yield* countSessions(id, sessionsTable)).toBe(1)
          const sql = yield* SqlClient.SqlClient
          for (const table of [operationsTable, messagesTable, sessionsTable]) yield* sql`DROP TABLE ${sql(table)}`
        }))
    })

    describe("popItem", () => {
      it.effect("removes and returns the newest item, None when empty", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const id = uniqueId()
          expect(yield* store.popItem(id)).toEqual(Option.none())
          yield* store.addItems(id, [msg(1), msg(2)])
          expect(Option.getOrThrow(yield* store.popItem(id)).content).toBe("m2")
          expect((yield* store.getItems(id)).map((item) => item.content)).toEqual(["m1"])
          expect(Option.getOrThrow(yield* store.popItem(id)).content).toBe("m1")
          expect(yield* store.popItem(id)).toEqual(Option.none())
          expect(yield* countMessages(id)).toBe(0)
        }))

      it.effect("deletes corrupt rows above the newest decodable item, and keeps rows Python can read", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const id = uniqueId()
          yield* store.addItems(id, [msg(1), msg(2)])
          yield* insertRaw(id, "{broken")
          // Python's json.loads reads "17" (and returns it as an item): not ours to delete.
          yield* insertRaw(id, "17")
          expect(Option.getOrThrow(yield* store.popItem(id)).content).toBe("m2")
          expect((yield* storedTexts(id)).slice(1)).toEqual(["17"])
          expect((yield* store.getItems(id)).map((item) => item.content)).toEqual(["m1"])
          expect(Option.getOrThrow(yield* store.popItem(id)).content).toBe("m1")
          expect(yield* store.popItem(id)).toEqual(Option.none())
          expect(yield* storedTexts(id)).toEqual(["17"])
        }))

      it.effect("never gives one item to two concurrent pops", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const id = uniqueId()
          yield* store.addItems(id, Array.from({ length: 20 }, (_, n) => msg(n)))
          const popped = yield* Effect.forEach(Array.from({ length: 24 }), () => store.popItem(id), {
            concurrency: "unbounded"
          })
          const contents = popped.filter(Option.isSome).map((item) => item.value.content)
          expect(contents).toHaveLength(20)
          expect(new Set(contents).size).toBe(20)
          expect(yield* countMessages(id)).toBe(0)

          // One item, two pops: exactly one of them gets it.
          for (let round = 0; round < 5; round++) {
            const single = uniqueId()
            yield* store.addItems(single, [msg(round)])
            const results = yield* Effect.all([store.popItem(single), store.popItem(single)], {
              concurrency: "unbounded"
            })
            expect(results.filter(Option.isSome)).toHaveLength(1)
          }
        }))
    })

    describe("clearSession", () => {
      it.effect("deletes the messages and the session row and touches no other session", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const id = uniqueId()
          const other = uniqueId()
          yield* store.addItems(id, [msg(1), msg(2)])
          yield* store.addItems(other, [msg(3)])
          yield* store.clearSession(id)
          expect(yield* countMessages(id)).toBe(0)
          expect(yield* countSessions(id)).toBe(0)
          expect(yield* store.getItems(id)).toEqual([])
          expect((yield* store.getItems(other)).map((item) => item.content)).toEqual(["m3"])
          expect(yield* countSessions(other)).toBe(1)
          // A cleared session can be used again.
          yield* store.addItems(id, [msg(4)])
          expect((yield* store.getItems(id)).map((item) => item.content)).toEqual(["m4"])
        }))

      it.effect("also forgets the session's recorded operation ids", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const id = uniqueId()
          const operation = { operationId: "op-1", transaction: { type: "append_items" as const, items: [msg(1)] } }
          yield* store.applyHistoryTransaction(id, operation)
          yield* store.clearSession(id)
          yield* store.applyHistoryTransaction(id, operation)
          expect((yield* store.getItems(id)).map((item) => item.content)).toEqual(["m1"])
        }))
    })

    describe("timestamps", () => {
      it.effect("keeps created_at and advances updated_at on every add", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const id = uniqueId()
          yield* store.addItems(id, [msg(1)])
          const first = yield* sessionTimes(id)
          expect(first.updatedAt).toBeGreaterThanOrEqual(first.createdAt)
          // SQLite's CURRENT_TIMESTAMP has one-second resolution.
          yield* realSleep((1100))
          yield* store.addItems(id, [msg(2)])
          const second = yield* sessionTimes(id)
          expect(second.createdAt).toBe(first.createdAt)
          expect(second.updatedAt).toBeGreaterThan(first.updatedAt)
        }))
    })

    describe("round trips", () => {
      it.effect("returns hostile text exactly", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const id = uniqueId()
          const items: Array<Item> = [
            { text: "héllo wörld — 你好 — 🤖🧠 — \u202Eright-to-left" },
            { text: "it's \"quoted\" `back` \\ slashed" },
            { text: "'; DROP TABLE agent_messages; --", sql: "1 OR 1=1" },
            { text: "nul \u0000 inside", lone: "\uD800 high and \uDC00 low" },
            JSON.parse("{\"__proto__\": {\"polluted\": true}, \"constructor\": \"x\", \"$bytes\": 1}"),
            { $bytes: "not bytes" },
            { $object: { nested: true } },
            { bytes: new Uint8Array([0, 1, 2, 254, 255]), nested: { deep: [[[{ a: null, b: false, c: -1.5e-7 }]]] } },
            { numbers: [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 0], holes: [1, undefined, 3] },
            { $number: "NaN", $undefined: true },
            { $number: "NaN" }
          ]
          yield* store.addItems(id, items)
          const back = yield* store.getItems(id)
          expect(back).toEqual(items)
          expect(Object.getPrototypeOf(back[4])).toBe(Object.prototype)
          expect(Object.keys(back[4]!)).toContain("__proto__")
          expect(Object.is((back[8]!.numbers as Array<number>)[3], -0)).toBe(true)
          expect(Object.is((back[8]!.numbers as Array<number>)[4], 0)).toBe(true)
        }))

      it.effect("stores and returns a 5 MB item", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const id = uniqueId()
          const big = { role: "user", content: "x".repeat(5 * 1024 * 1024 - 100) + "ü🤖" }
          yield* store.addItems(id, [msg(0), big])
          expect((yield* store.getItems(id, 1))[0]).toEqual(big)
          expect(Option.getOrThrow(yield* store.popItem(id))).toEqual(big)
        }))

      it.effect("rejects items over maxItemBytes before sending anything", () =>
        Effect.gen(function*() {
          const store = yield* SqlSessionStore.make({ maxItemBytes: 1024 })
          const id = uniqueId()
          const error = yield* Effect.flip(store.addItems(id, [msg(1), { content: "y".repeat(2000) }]))
          assert.instanceOf(error, InvalidItemError)
          expect(error.message).toContain("maxItemBytes")
          expect(yield* countSessions(id)).toBe(0)
        }))
    })

    describe("interruption", () => {
      it.effect("never leaves a partial batch, and finishes a mutation that reached the database", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const batch = Array.from({ length: 40 }, (_, n) => msg(n, { pad: "z".repeat(2000) }))
          const outcomes = new Set<number>()
          for (let round = 0; round < 12; round++) {
            const id = uniqueId()
            const fiber = yield* Effect.fork(store.addItems(id, batch))
            yield* realSleep((round % 4))
            yield* Fiber.interrupt(fiber)
            const now = yield* countMessages(id)
            yield* realSleep((50))
            // Once interrupt returns, nothing may still be on its way to the database.
            expect(yield* countMessages(id)).toBe(now)
            expect([0, batch.length]).toContain(now)
            outcomes.add(now)
          }

          for (let round = 0; round < 8; round++) {
            const id = uniqueId()
            yield* store.addItems(id, [msg(1), msg(2), msg(3)])
            const pop = yield* Effect.fork(store.popItem(id))
            yield* realSleep((round % 3))
            yield* Fiber.interrupt(pop)
            const afterPop = yield* countMessages(id)
            yield* realSleep((30))
            expect(yield* countMessages(id)).toBe(afterPop)
            expect([2, 3]).toContain(afterPop)

            const clear = yield* Effect.fork(store.clearSession(id))
            yield* realSleep((round % 3))
            yield* Fiber.interrupt(clear)
            const afterClear = yield* countMessages(id)
            yield* realSleep((30))
            expect(yield* countMessages(id)).toBe(afterClear)
            expect([0, afterPop]).toContain(afterClear)
            expect(yield* countSessions(id)).toBe(afterClear === 0 ? 0 : 1)
          }
        }))
    })

    describe("history transactions", () => {
      it.effect("applies an operation once, however often it is retried", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const id = uniqueId()
          const args = { operationId: "op-a", transaction: { type: "append_items" as const, items: [msg(1), msg(2)] } }
          yield* Effect.all([1, 2, 3, 4].map(() => store.applyHistoryTransaction(id, args)), { concurrency: "unbounded" })
          yield* store.applyHistoryTransaction(id, args)
          expect((yield* store.getItems(id)).map((item) => item.content)).toEqual(["m1", "m2"])
        }))

      it.effect("refuses a reused id or a stale suffix, changing nothing", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const id = uniqueId()
          yield* store.applyHistoryTransaction(id, {
            operationId: "op-1",
            transaction: { type: "append_items", items: [msg(1), msg(2)] }
          })
          const reused = yield* Effect.flip(
            store.applyHistoryTransaction(id, {
              operationId: "op-1",
              transaction: { type: "append_items", items: [msg(3)] }
            })
          )
          assert.instanceOf(reused, HistoryConflictError)
          expect(reused.reason).toBe("operation_reused")
          const stale = yield* Effect.flip(
            store.applyHistoryTransaction(id, {
              operationId: "op-2",
              transaction: { type: "replace_suffix", expectedSuffix: [msg(1)], replacement: [msg(9)] }
            })
          )
          assert.instanceOf(stale, HistoryConflictError)
          expect(stale.reason).toBe("suffix_mismatch")
          expect((yield* store.getItems(id)).map((item) => item.content)).toEqual(["m1", "m2"])
          // The failed id was not recorded: it can be used for a valid change.
          yield* store.applyHistoryTransaction(id, {
            operationId: "op-2",
            transaction: { type: "replace_suffix", expectedSuffix: [msg(2)], replacement: [msg(8), msg(9)] }
          })
          expect((yield* store.getItems(id)).map((item) => item.content)).toEqual(["m1", "m8", "m9"])
        }))

      it.effect("replaces the function call by call id and the whole history in one transaction", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const id = uniqueId()
          const call = (name: string) => ({ type: "function_call", callId: "call-1", name, arguments: "{}" })
          yield* store.addItems(id, [msg(1), call("first"), msg(2), call("duplicate")])
          yield* store.applyHistoryMutations(id, {
            mutations: [{ type: "replace_function_call", callId: "call-1", replacement: call("replaced") }]
          })
          expect(yield* store.getItems(id)).toEqual([msg(1), call("replaced"), msg(2)])
          yield* store.replaceHistory(id, [msg(7)])
          expect(yield* store.getItems(id)).toEqual([msg(7)])
          expect(yield* countMessages(id)).toBe(1)
        }))
    })

    describe("arguments", () => {
      it.effect("refuses table names that are not plain identifiers before sending SQL", () =>
        Effect.gen(function*() {
          for (
            const bad of ["agent.messages", "messages; DROP TABLE x", "\"quoted\"", "1table", "", "a-b", "x".repeat(49)]
          ) {
            const error = yield* Effect.flip(SqlSessionStore.make({ messagesTable: bad, createTables: true }))
            assert.instanceOf(error, InvalidArgumentError)
            expect(error.argument).toBe("messagesTable")
          }
        }))

      it.effect("accepts unicode and SQL-looking session ids and refuses empty, too long or unstorable ones", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const suffix = uniqueId()
          for (const id of [`ünï-🤖-${suffix}`, `'; DROP TABLE agent_sessions; -- ${suffix}`, `${"é".repeat(200)}${suffix}`]) {
            yield* store.addItems(id, [msg(1)])
            expect((yield* store.getItems(id)).map((item) => item.content)).toEqual(["m1"])
            yield* store.clearSession(id)
          }
          // Case matters: "A" and "a" are different sessions, on MySQL too.
          const lower = `case-${suffix}`
          const upper = `CASE-${suffix}`
          yield* store.addItems(lower, [msg(1)])
          yield* store.addItems(upper, [msg(2)])
          expect((yield* store.getItems(lower)).map((item) => item.content)).toEqual(["m1"])
          // Trailing spaces: MySQL's PAD SPACE collations would merge "a" and "a ", so it refuses them.
          const spaced = `${lower} `
          if (db.dialect === "mysql") {
            const error = yield* Effect.flip(store.addItems(spaced, [msg(9)]))
            assert.instanceOf(error, InvalidArgumentError)
          } else {
            yield* store.addItems(spaced, [msg(9)])
            expect((yield* store.getItems(spaced)).map((item) => item.content)).toEqual(["m9"])
          }
          expect((yield* store.getItems(lower)).map((item) => item.content)).toEqual(["m1"])
          for (const bad of ["", "x".repeat(256), "nul\u0000", "lone\uD800"]) {
            const error = yield* Effect.flip(store.addItems(bad, [msg(1)]))
            assert.instanceOf(error, InvalidArgumentError)
            expect(error.argument).toBe("sessionId")
            expect(Either.isLeft(yield* Effect.either(store.getItems(bad)))).toBe(true)
          }
        }))
    })
  })
}

/** Real time: `it.effect` runs on the test clock, and these waits are for the database. */
const realSleep = (millis: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, millis)))
