/**
 * Concurrent pops on PostgreSQL, where pops are combined into one statement when they queue
 * (0.2.1 rewrote both pop statements for their query plans). Attacked through the public API:
 * many pops on one session, pops mixed with appends and clears, and sessions whose rows another
 * writer (the Python SDK) left: bare JSON values, text that starts like an object but is not JSON,
 * objects with leading whitespace. Every pop must return a distinct item, never a row Python can
 * read but we must keep, and nothing acknowledged may be lost.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import { Effect, Layer, Metric, Option } from "effect"
import { type Item, SessionMetrics, SessionStore, SqlSessionStore } from "../../src/index.js"
import { postgres, uniqueId, uniqueTable } from "../support/databases.js"
import { insertRaw, storedTexts } from "./support.js"

const range = (n: number) => Array.from({ length: n }, (_, index) => index)

const tables = {
  sessionsTable: uniqueTable("pop_sessions"),
  messagesTable: uniqueTable("pop_messages"),
  operationsTable: uniqueTable("pop_operations")
}

const storeLayer = SqlSessionStore.layer({ createTables: true, ...tables }).pipe(Layer.provideMerge(postgres.layer))

const popStatements = Metric.value(Metric.tagged(SessionMetrics.batchSize, "operation", "popItem")).pipe(
  Effect.map((state) => ({ statements: state.count, requests: state.sum }))
)

const label = (item: Item) => String((item as { readonly label?: unknown }).label)

const plant = (sessionId: string, text: string) => insertRaw(sessionId, text, tables.messagesTable, tables.sessionsTable)

const popAll = (sessionIds: ReadonlyArray<string>) =>
  Effect.flatMap(SessionStore, (store) =>
    Effect.forEach(sessionIds, (sessionId) => Effect.map(store.popItem(sessionId), (item) => ({ sessionId, item })), {
      concurrency: "unbounded"
    }))

describe.skipIf(postgres.unavailable !== undefined)("PostgreSQL pops under concurrency", () => {
  layer(storeLayer, { timeout: 60_000 })((it) => {
    it.effect("40 concurrent pops of a 30-item session return each item once and leave it empty", () =>
      Effect.gen(function*() {
        const store = yield* SessionStore
        const id = uniqueId("one")
        yield* store.addItems(id, range(30).map((n) => ({ label: `i${n}` })))
        const before = yield* popStatements
        const popped = yield* popAll(range(40).map(() => id))
        const after = yield* popStatements
        const items = popped.flatMap(({ item }) => Option.toArray(item)).map(label)
        expect(items).toHaveLength(30)
        expect(new Set(items)).toEqual(new Set(range(30).map((n) => `i${n}`)))
        expect(yield* storedTexts(id, tables.messagesTable)).toEqual([])
        // Each statement carries at most one pop of a session: as many requests as statements.
        expect(after.requests - before.requests).toBe(after.statements - before.statements)
      }))

    it.effect("combined pops over many sessions return each session's items newest first, once", () =>
      Effect.gen(function*() {
        const store = yield* SessionStore
        const ids = range(24).map((n) => uniqueId(`many${n}`))
        yield* Effect.forEach(ids, (id) => store.addItems(id, range(3).map((n) => ({ label: `${id}/${n}` }))), {
          concurrency: 4
        })
        const before = yield* popStatements
        // Three rounds of one pop per session, all at once: each round can combine.
        const rounds = [] as Array<ReadonlyArray<{ sessionId: string; item: Option.Option<Item> }>>
        for (let round = 0; round < 3; round++) rounds.push(yield* popAll(ids))
        const after = yield* popStatements
        for (let round = 0; round < 3; round++) {
          for (const { item, sessionId } of rounds[round]!) {
            expect(Option.map(item, label)).toEqual(Option.some(`${sessionId}/${2 - round}`))
          }
        }
        // Batching really formed (fewer statements than pops).
        expect(after.requests - before.requests).toBe(72)
        expect(after.statements - before.statements).toBeLessThan(72)
        for (const id of ids) expect(yield* storedTexts(id, tables.messagesTable)).toEqual([])
      }))

    it.effect("never deletes rows Python can read, deletes unreadable object-like rows it passes, pops padded objects", () =>
      Effect.gen(function*() {
        const store = yield* SessionStore
        // Oldest first. `{not json` starts like an object but no one can read it; the padded
        // objects are valid JSON objects (Python reads them, and so do we).
        const layouts: ReadonlyArray<ReadonlyArray<string>> = [
          [`{"label":"a"}`, `42`, `{"label":"b"}`, `[1]`],
          [`null`, `{"label":"a"}`, `{not json`, `"text"`],
          [`  {"label":"a"}`, `\n{"label":"b"}`, `true`],
          [`{"label":"a"}`, `{not json`, `{"label":"b"}`, `{also not`],
          [`7`, `[{"label":"x"}]`],
          []
        ]
        const objects = (layout: ReadonlyArray<string>) =>
          layout.filter((text) => {
            try {
              const value = JSON.parse(text)
              return value !== null && typeof value === "object" && !Array.isArray(value)
            } catch {
              return false
            }
          })
        const pythonReadable = (layout: ReadonlyArray<string>) =>
          layout.filter((text) => {
            try {
              JSON.parse(text)
              return true
            } catch {
              return false
            }
          })
        // Each layout on several sessions, so combined pops mix them with normal sessions.
        const sessions = layouts.flatMap((layout, index) =>
          range(3).map((copy) => ({ id: uniqueId(`py${index}c${copy}`), layout }))
        )
        const normal = range(6).map((n) => uniqueId(`normal${n}`))
        yield* Effect.forEach(sessions, ({ id, layout }) => Effect.forEach(layout, (text) => plant(id, text)), {
          concurrency: 4
        })
        yield* Effect.forEach(normal, (id) => store.addItems(id, [{ label: "n0" }, { label: "n1" }]), { concurrency: 4 })
        const pops = 5
        const results = yield* popAll(
          range(pops).flatMap(() => [...sessions.map(({ id }) => id), ...normal])
        )
        for (const { id, layout } of sessions) {
          const mine = results.filter(({ sessionId }) => sessionId === id).flatMap(({ item }) => Option.toArray(item))
          // Every object row came out exactly once, and nothing else did.
          expect(mine.map((item) => JSON.stringify(item)).sort()).toEqual(
            objects(layout).map((text) => JSON.stringify(JSON.parse(text))).sort()
          )
          // What Python can read and is not an object stays, in order; unreadable rows went.
          expect(yield* storedTexts(id, tables.messagesTable)).toEqual(
            pythonReadable(layout).filter((text) => !objects(layout).includes(text))
          )
        }
        for (const id of normal) {
          const mine = results.filter(({ sessionId }) => sessionId === id).flatMap(({ item }) => Option.toArray(item))
          expect(mine.map(label).sort()).toEqual(["n0", "n1"])
          expect(yield* storedTexts(id, tables.messagesTable)).toEqual([])
        }
      }))

    it.effect("pops racing appends on the same sessions lose nothing and return nothing twice", () =>
      Effect.gen(function*() {
        const store = yield* SessionStore
        const ids = range(6).map((n) => uniqueId(`race${n}`))
        const appended = new Map<string, Array<string>>(ids.map((id) => [id, []]))
        const appends = ids.flatMap((id) =>
          range(8).map((call) => {
            const items = range(2).map((part) => ({ label: `${id}/${call}.${part}` }))
            return Effect.tap(store.addItems(id, items), () => {
              appended.get(id)!.push(...items.map(label))
            })
          })
        )
        const pops = ids.flatMap((id) => range(10).map(() => Effect.map(store.popItem(id), (item) => ({ id, item }))))
        // Interleaved: an append, a pop, an append, … all started at once.
        const work = range(Math.max(appends.length, pops.length)).flatMap((n) => [
          ...(n < appends.length ? [Effect.as(appends[n]!, undefined)] : []),
          ...(n < pops.length ? [pops[n]!] : [])
        ])
        const outcomes = yield* Effect.all(work, { concurrency: "unbounded" })
        const popped = outcomes.flatMap((outcome) =>
          outcome === undefined ? [] : Option.toArray(outcome.item).map((item) => ({ id: outcome.id, label: label(item) }))
        )
        const labels = popped.map((entry) => entry.label)
        expect(new Set(labels).size).toBe(labels.length)
        for (const id of ids) {
          const remaining = (yield* store.getItems(id)).map(label)
          const mine = popped.filter((entry) => entry.id === id).map((entry) => entry.label)
          expect([...remaining, ...mine].sort()).toEqual([...appended.get(id)!].sort())
          // A call whose two items both remain has them together and in order (a pop takes only
          // the newest row, so it can part them only by taking the second).
          for (const [index, text] of remaining.entries()) {
            if (!text.endsWith(".0")) continue
            const second = remaining.indexOf(text.replace(/\.0$/, ".1"))
            if (second !== -1) expect(second).toBe(index + 1)
          }
        }
      }))

    it.effect("pops racing a clear return distinct items of the session and leave nothing behind", () =>
      Effect.gen(function*() {
        const store = yield* SessionStore
        const sql = yield* SqlClient.SqlClient
        const id = uniqueId("clear")
        const other = uniqueId("bystander")
        yield* store.addItems(id, range(12).map((n) => ({ label: `c${n}` })))
        yield* store.addItems(other, range(4).map((n) => ({ label: `o${n}` })))
        const results = yield* Effect.all(
          [
            ...range(6).map(() => Effect.map(store.popItem(id), Option.toArray)),
            Effect.as(store.clearSession(id), [] as Array<Item>),
            ...range(6).map(() => Effect.map(store.popItem(id), Option.toArray)),
            Effect.map(store.popItem(other), Option.toArray)
          ],
          { concurrency: "unbounded" }
        )
        const popped = results.flat().map(label)
        const fromCleared = popped.filter((text) => text.startsWith("c"))
        expect(new Set(fromCleared).size).toBe(fromCleared.length)
        for (const text of fromCleared) expect(range(12).map((n) => `c${n}`)).toContain(text)
        expect(popped.filter((text) => text.startsWith("o"))).toEqual(["o3"])
        expect(yield* storedTexts(id, tables.messagesTable)).toEqual([])
        const sessionRows = yield* sql<{ n: number }>`SELECT COUNT(*)::int AS n FROM ${sql(tables.sessionsTable)}
          WHERE session_id = ${id}`
        expect(sessionRows[0]!.n).toBe(0)
        expect((yield* store.getItems(other)).map(label)).toEqual(["o0", "o1", "o2"])
      }))
  })
})
