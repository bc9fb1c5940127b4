/**
 * The behaviour suite's tests of the store's edges: inputs of any size the API accepts, the
 * order other readers see, and what a missing table says. Called from `behaviour.ts` inside its
 * shared store layer, so it runs on SQLite, PostgreSQL and MariaDB.
 */
import { SqlClient } from "@effect/sql"
import { assert, describe, expect, type Vitest } from "@effect/vitest"
import { Effect, Option, Schema } from "effect"
import { type Item, ItemFromJson, JsonObject, SessionStore, SessionStoreError, SqlSessionStore } from "../../src/index.js"
import { uniqueId, uniqueTable } from "../support/databases.js"
import { countMessages } from "./support.js"

/** The `it` of the behaviour suite's shared layer. */
type It = Vitest.MethodsNonLive<SessionStore | SqlClient.SqlClient>

const small = (n: number): Item => ({ n })

/** Message ids of a session in our order (id) and in the Python SDK's (created_at, id). */
const bothOrders = (sessionId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.all({
      byId: sql<{ id: number | string }>`SELECT id FROM agent_messages WHERE session_id = ${sessionId} ORDER BY id`,
      byTime: sql<{ id: number | string }>`SELECT id FROM agent_messages WHERE session_id = ${sessionId}
        ORDER BY created_at, id`
    }).pipe(Effect.map(({ byId, byTime }) => ({ byId: byId.map((row) => String(row.id)), byTime: byTime.map((row) => String(row.id)) }))))

export const edgeTests = (it: It) => {
  describe("inputs of any size", () => {
    it.effect("returns the whole history for any integer limit at least as large as it", () =>
      Effect.gen(function*() {
        const store = yield* SessionStore
        const id = uniqueId()
        yield* store.addItems(id, [small(1), small(2), small(3)])
        const limits = [3, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53 - 1, 2 ** 63, 1e21, Number.MAX_VALUE]
        for (const limit of limits) {
          expect((yield* store.getItems(id, limit)).map((item) => item.n), `limit ${limit}`).toEqual([1, 2, 3])
        }
        expect((yield* store.getItems(id, 2)).map((item) => item.n)).toEqual([2, 3])
      }))

    it.effect("writes batches far past the statement limits atomically, in order and contiguously", () =>
      Effect.gen(function*() {
        const store = yield* SessionStore
        // SQLite allows 32,766 bound values per statement, PostgreSQL and MySQL 65,535.
        const big = Array.from({ length: 40_000 }, (_, n) => small(n))
        const id = uniqueId()
        yield* store.addItems(id, [{ writer: "first" }])
        yield* Effect.all([
          store.addItems(id, big),
          ...[1, 2, 3].map((w) => store.addItems(id, [{ writer: w }, { writer: w }]))
        ], { concurrency: "unbounded", discard: true })
        const items = yield* store.getItems(id)
        expect(items).toHaveLength(1 + big.length + 6)
        const start = items.findIndex((item) => item.n === 0)
        // The big batch is one contiguous run in caller order.
        expect(items.slice(start, start + big.length).every((item, index) => item.n === index)).toBe(true)

        // replaceHistory, mutations and history transactions of the same size.
        const other = uniqueId()
        const call = (n: number) => ({ type: "function_call", callId: "dup", name: "f", arguments: "{}", n })
        yield* store.replaceHistory(other, Array.from({ length: 34_000 }, (_, n) => call(n)))
        expect(yield* countMessages(other)).toBe(34_000)
        yield* store.applyHistoryMutations(other, {
          mutations: [{ type: "replace_function_call", callId: "dup", replacement: call(-1) }]
        })
        expect(yield* store.getItems(other)).toEqual([call(-1)])
        yield* store.applyHistoryTransaction(other, {
          operationId: "big",
          transaction: { type: "append_items", items: big.slice(0, 34_000) }
        })
        const after = yield* store.getItems(other)
        expect(after).toHaveLength(34_001)
        expect(after.slice(1).every((item, index) => item.n === index)).toBe(true)
        yield* store.clearSession(id)
        yield* store.clearSession(other)
      }))

    it.effect("writes three 6 MiB items in one call, more than one statement or MariaDB packet carries", () =>
      Effect.gen(function*() {
        const store = yield* SessionStore
        const id = uniqueId()
        const big = (n: number) => ({ n, content: String(n).repeat(6 * 1024 * 1024) })
        yield* store.addItems(id, [big(1), big(2), big(3)])
        expect(yield* countMessages(id)).toBe(3)
        expect((yield* store.getItems(id, 1))[0]).toEqual(big(3))
        expect((yield* store.getItems(id)).map((item) => item.n)).toEqual([1, 2, 3])
        yield* store.clearSession(id)
      }))
  })

  describe("popItem with a custom schema", () => {
    it.effect("decodes before it deletes, and never gives one item to two concurrent pops", () =>
      Effect.gen(function*() {
        const Strict = Schema.compose(
          ItemFromJson,
          JsonObject.pipe(Schema.filter((item) => typeof item.n === "number" || "items need a number n"))
        )
        const store = yield* SqlSessionStore.make({ schema: Strict })
        const id = uniqueId()
        yield* store.addItems(id, Array.from({ length: 20 }, (_, n) => small(n)))
        const popped = yield* Effect.forEach(Array.from({ length: 24 }), () => store.popItem(id), {
          concurrency: "unbounded"
        })
        const numbers = popped.filter(Option.isSome).map((item) => item.value.n)
        expect(numbers).toHaveLength(20)
        expect(new Set(numbers).size).toBe(20)
        expect(yield* countMessages(id)).toBe(0)
      }))
  })

  describe("order seen by the Python SDK", () => {
    it.effect("created_at order equals id order for every kind of write under concurrent writers", () =>
      Effect.gen(function*() {
        const store = yield* SessionStore
        const id = uniqueId()
        yield* store.addItems(id, [small(0)])
        const write = (n: number) => {
          switch (n % 4) {
            case 0:
              return store.addItems(id, [small(n), small(n)])
            case 1:
              return store.applyHistoryTransaction(id, {
                operationId: `op-${n}`,
                transaction: { type: "append_items", items: [small(n), small(n)] }
              })
            case 2:
              return store.applyHistoryMutations(id, {
                mutations: [{ type: "replace_function_call", callId: "none", replacement: small(n) }]
              })
            default:
              return n === 15 ? store.replaceHistory(id, [small(n), small(n)]) : store.addItems(id, [small(n)])
          }
        }
        yield* Effect.forEach(Array.from({ length: 32 }, (_, n) => n), write, { concurrency: "unbounded", discard: true })
        // The replaceHistory above may land last and leave two rows: a second round of every other
        // kind of write makes sure there are always many rows to compare (40 from this round).
        yield* Effect.forEach(Array.from({ length: 32 }, (_, n) => n + 32), write, { concurrency: "unbounded", discard: true })
        const { byId, byTime } = yield* bothOrders(id)
        expect(byId.length).toBeGreaterThanOrEqual(40)
        expect(byTime).toEqual(byId)
      }))
  })

  describe("missing tables", () => {
    it.effect("says to pass createTables: true or run the migrations", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const names = {
          sessionsTable: uniqueTable("gone_sessions"),
          messagesTable: uniqueTable("gone_messages"),
          operationsTable: uniqueTable("gone_ops")
        }
        const atBuild = yield* Effect.flip(SqlSessionStore.make(names))
        assert.instanceOf(atBuild, SessionStoreError)
        expect(atBuild.message).toContain(names.sessionsTable)
        expect(atBuild.message).toContain("createTables: true")
        expect(atBuild.message).toContain("SqlSessionStore.migrations()")

        // Dropped after the store was built: the operation's error says the same.
        const store = yield* SqlSessionStore.make({ ...names, createTables: true })
        for (const table of [names.operationsTable, names.messagesTable, names.sessionsTable]) {
          yield* sql`DROP TABLE ${sql(table)}`
        }
        const atUse = yield* Effect.flip(store.addItems(uniqueId(), [small(1)]))
        assert.instanceOf(atUse, SessionStoreError)
        expect(atUse.message).toContain("createTables: true")
        expect(atUse.message).toContain("SqlSessionStore.migrations()")
        const atRead = yield* Effect.flip(store.getItems(uniqueId()))
        assert.instanceOf(atRead, SessionStoreError)
        expect(atRead.message).toContain("does not exist")
      }))
  })
}
