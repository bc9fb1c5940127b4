/**
 * Hostile use of the public API, on SQLite, PostgreSQL and MariaDB: calls inside the caller's
 * transaction beside batched traffic, calls interrupted while queued or in flight, items that
 * cannot be stored (through the Effect and Promise faces), custom schemas that refuse rows on
 * reads, pops and paging reads, metric labels on the batch-size histogram, and a deadlock inside
 * the caller's transaction. Each checks what was stored, which span owns each statement and log,
 * and what was counted. Written as an adversarial pass on 0.2.3; it found four defects of earlier
 * versions, fixed with it (a retry outside the caller's rolled-back transaction, a careful pop's
 * reports on the wrong span, `session.corrupt_rows` counting only the last page, a thrown `null`).
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import { Cause, Deferred, Duration, Effect, Exit, Fiber, Metric, Option, ParseResult, Schema, Tracer } from "effect"
import * as vitest from "vitest"
import { InvalidArgumentError, InvalidItemError, type Item, ItemFromJson, SessionStore, SqlSessionPool, SqlSessionStore } from "../../src/index.js"
import { all, type TestDatabase, uniqueId } from "../support/databases.js"
import { type RecordedSpan, recordSpans } from "../support/spans.js"
import { countSessions, storedTexts, storeOnOwnTables } from "./support.js"

const range = (n: number) => Array.from({ length: n }, (_, index) => index)
const item = (call: string, index: number): Item => ({ role: "user", content: `${call}#${index}` })
const contents = (items: ReadonlyArray<Item>) => items.map((entry) => String(entry.content))
const events = (span: Tracer.Span) => (span as unknown as { events: Array<[string]> }).events.map(([message]) => message)
const skips = (r: RecordedSpan | undefined, op: string) =>
  events(r!.span).filter((e) => e === `${op}: skipped a stored row that failed to decode`).length

/** `count` and `sum` over the metric's pairs carrying these tags (`exact`: and no others). */
const metricWith = (name: string, tags: Record<string, string>, exact = false) =>
  Effect.map(Metric.snapshot, (pairs) =>
    pairs.filter((pair) =>
      pair.metricKey.name === name && (!exact || pair.metricKey.tags.length === Object.keys(tags).length) &&
      Object.entries(tags).every(([key, value]) => pair.metricKey.tags.some((t) => t.key === key && t.value === value))
    ).reduce((acc, pair) => {
      const state = pair.metricState as { count?: number; sum?: number }
      return { count: acc.count + Number(state.count ?? 0), sum: acc.sum + Number(state.sum ?? 0) }
    }, { count: 0, sum: 0 }))

/** A statement's owner is its nearest ancestor that is not a `sql.transaction`; `stray` lists owners not ours. */
const ownership = (spans: ReadonlyArray<RecordedSpan>) => {
  const transactions = new Map(spans.filter((r) => r.name === "sql.transaction").map((r) => [r.span as Tracer.AnySpan, r.parent]))
  const ownerOf = (r: RecordedSpan) => {
    let owner = r.parent
    while (owner !== undefined && transactions.has(owner)) owner = transactions.get(owner)
    return owner
  }
  const ours = spans.filter((r) => r.name.startsWith("SessionStore."))
  const oursSet = new Set<Tracer.AnySpan | undefined>(ours.map((r) => r.span))
  const statements = spans.filter((r) => r.name === "sql.execute")
  const stray = statements.map(ownerOf).filter((o) => !oursSet.has(o)).map((o) => (o as Tracer.Span | undefined)?.name ?? "none")
  return { ours, ownerOf, statements, stray }
}

/** A strict custom schema: refuses (only) rows whose text mentions "poison". */
const Poisoned = Schema.transformOrFail(Schema.String, Schema.typeSchema(ItemFromJson), {
  strict: true,
  decode: (text, _, ast) =>
    text.includes("poison") ? ParseResult.fail(new ParseResult.Type(ast, text, "poisoned")) : ParseResult.decodeUnknown(ItemFromJson)(text),
  encode: (value) => ParseResult.encodeUnknown(ItemFromJson)(value)
})
const poison = (k: number): Item => ({ role: "user", content: `poison ${k}` })
const clean = (id: string) => [`${id}#0`, `${id}#2`, `${id}#4`]

const circular: Record<string, unknown> = { role: "user" }
circular.self = circular
/** Items the store must refuse with `InvalidItemError`, and the index the error must name. */
const invalidItems: ReadonlyArray<readonly [string, unknown, number | undefined]> = [
  ["a string", "not an array", undefined],
  ["an object", { role: "user" }, undefined],
  ["null", null, undefined],
  ["a function", [item("ok", 0), { role: "user", f: () => 1 }], 1],
  ["a BigInt", [{ role: "user", n: 10n }], 0],
  ["a symbol key", [item("ok", 0), item("ok", 1), { role: "user", [Symbol("k")]: 1 }], 2],
  ["a cycle", [circular], 0],
  ["a non-object item", ["text"], 0],
  ["an array item", [item("ok", 0), [1, 2]], 1],
  ["a class instance", [{ role: "user", at: new Date() }], 0],
  ["an oversize item", [item("ok", 0), { role: "user", content: "é".repeat(300) }], 1]
]
// (Plain fields only: chai overflows the stack printing a tagged error when an assertion on it fails.)
const shape = (error: unknown) => {
  const { _tag, index, name } = error as InvalidItemError
  return { isError: error instanceof Error, isInvalidItem: error instanceof InvalidItemError, _tag, name, index }
}
const invalid = (index: number | undefined) =>
  ({ isError: true, isInvalidItem: true, _tag: "InvalidItemError", name: "InvalidItemError", index })

const suite = (db: TestDatabase) => {
  if (db.unavailable !== undefined) {
    describe.skip(`hostile use on ${db.label} (skipped: ${db.unavailable})`, () => vitest.it("skipped", () => {}))
    return
  }
  const { layer: StoreLive, tables } = storeOnOwnTables(db, "adv")
  const seedTainted = (id: string) => // c0, P1, c2, P3, c4, written with the default codec
    Effect.flatMap(SessionStore, (store) => store.addItems(id, [item(id, 0), poison(1), item(id, 2), poison(3), item(id, 4)]))
  const corrupt = (operation: string) => Effect.map(metricWith("agent_session_corrupt_rows_total", { operation }), (m) => m.count)

  layer(StoreLive, { timeout: Duration.seconds(60), excludeTestServices: true })(`hostile use on ${db.label}`, (it) => {
    it.effect("in sql.withTransaction: statements under our spans, never merged with outside calls; commit, rollback", () =>
      Effect.gen(function*() {
        const store = yield* SessionStore
        const sql = yield* SqlClient.SqlClient
        // "zz": after every other session in the index, so no InnoDB gap lock meets the outside calls.
        const kept = uniqueId("zz-kept"), dropped = uniqueId("zz-dropped")
        const outside = range(16).map(() => uniqueId("out"))
        const inTx = (id: string) => Effect.gen(function*() {
          yield* store.addItems(id, [item(id, 0)])
          yield* store.addItems(id, [item(id, 1), item(id, 2)])
          const newest = contents(yield* store.getItems(id, 2))
          const everything = contents(yield* store.getItems(id))
          return { newest, everything, popped: Option.map(yield* store.popItem(id), (p) => p.content) }
        })
        // The two transactions one after the other, both alongside batched calls outside.
        const { result: [[inside, rolledBack], outsideReads], spans } = yield* recordSpans(Effect.all([
          Effect.zip(sql.withTransaction(inTx(kept)), Effect.exit(sql.withTransaction(Effect.zipRight(inTx(dropped), Effect.fail("boom"))))),
          Effect.forEach(outside, (id) => Effect.zipRight(store.addItems(id, [item(id, 0)]), store.getItems(id, 1)), { concurrency: "unbounded" })
        ], { concurrency: "unbounded" }))
        expect(inside).toEqual({ newest: [`${kept}#1`, `${kept}#2`], everything: range(3).map((n) => `${kept}#${n}`), popped: Option.some(`${kept}#2`) })
        expect(Exit.isFailure(rolledBack)).toBe(true)
        expect(outsideReads.map(contents)).toEqual(outside.map((id) => [`${id}#0`]))
        expect(contents(yield* store.getItems(kept))).toEqual([`${kept}#0`, `${kept}#1`])
        expect([yield* storedTexts(dropped, tables.messagesTable), yield* countSessions(dropped, tables.sessionsTable)]).toEqual([[], 0])
        const { ours, ownerOf, statements, stray } = ownership(spans)
        expect(stray).toEqual([])
        // Each call in a transaction sent statements of its own: no batch carried it.
        const inTxCalls = ours.filter((r) => [kept, dropped].includes(r.span.attributes.get("session.id") as string))
        expect(inTxCalls.length).toBe(10)
        for (const call of inTxCalls) {
          expect([call.span.attributes.has("session.batch_size"), statements.some((s) => ownerOf(s) === call.span)], call.name).toEqual([false, true])
        }
      }))

    it.effect("interrupted calls: queued ones never applied, taken ones applied once and in order; statements ours", () =>
      Effect.gen(function*() {
        const store = yield* SessionStore
        const base = yield* Effect.tracer
        const spans: Array<RecordedSpan> = [] // live: read while the calls run
        const tracer = Tracer.make({ context: base.context, span: (...args: Parameters<Tracer.Tracer["span"]>) => {
          const span = base.span(...args)
          spans.push({ name: span.name, span, attributes: span.attributes, parent: Option.getOrUndefined(span.parent) })
          return span
        } })
        const sessions = range(8).map(() => uniqueId("intr"))
        // Call j of a session appends j + 1 items, so its span's `session.items` names it. Taken by a
        // slot (alone or in a batch) = `session.batch_size` set: it must be applied; any other, never.
        const itemsOf = (id: string, j: number) => range(j + 1).map((k) => item(`${id}/${j}`, k))
        const takenNow = (id: string, j: number) => spans.some((r) =>
          r.attributes.get("session.id") === id && r.attributes.get("session.items") === j + 1 && r.attributes.has("session.batch_size"))
        const outcomes = yield* Effect.withTracer(Effect.forEach(sessions, (id, s) =>
          Effect.forEach(range(6), (j) =>
            Effect.gen(function*() {
              const fiber = yield* Effect.fork(store.addItems(id, itemsOf(id, j)))
              yield* (s + j) % 3 === 0 ? Effect.sleep(Duration.millis(1)) : Effect.yieldNow()
              const exit = yield* Fiber.interrupt(fiber)
              return { exit, taken: takenNow(id, j) }
            })), { concurrency: "unbounded" }), tracer)
        expect(ownership(spans).stray).toEqual([])
        // More appends, which would carry any interrupted call left behind in the queue.
        yield* Effect.forEach(range(8), () => store.addItems(uniqueId("flush"), [item("f", 0)]), { concurrency: "unbounded" })
          .pipe(Effect.timeoutFail({ duration: Duration.seconds(10), onTimeout: () => "hung: a slot leaked" }))
        let queuedAndInterrupted = 0
        for (const [s, id] of sessions.entries()) {
          outcomes[s]!.forEach(({ exit, taken }) => {
            if (Exit.isSuccess(exit)) expect(taken).toBe(true)
            else if (!taken) queuedAndInterrupted++
          })
          const expected = outcomes[s]!.flatMap(({ taken }, j) => taken ? contents(itemsOf(id, j)) : [])
          expect(contents(yield* store.getItems(id))).toEqual(expected)
        }
        // Over the network most interrupted calls are still queued (SQLite's calls rarely wait).
        if (db.dialect !== "sqlite") expect(queuedAndInterrupted).toBeGreaterThan(0)
      }))

    it.effect("invalid items fail typed before any statement, are counted by tag, and leave the store working", () =>
      Effect.gen(function*() {
        const store = yield* SqlSessionStore.make({ ...tables, maxItemBytes: 200 })
        const custom = yield* SqlSessionStore.make({ ...tables, maxItemBytes: 200, schema: ItemFromJson.annotations({ identifier: "Custom" }) })
        const tenant = uniqueId("tenant")
        const ids: Array<string> = []
        const counters = Effect.all([
          metricWith("agent_session_failures_total", { operation: "addItems", tenant, error: "InvalidItemError" }),
          metricWith("agent_session_failures_total", { operation: "addItems", tenant, error: "InvalidArgumentError" }),
          metricWith("agent_session_operations_total", { operation: "addItems", tenant })
        ])
        const { spans } = yield* recordSpans(Effect.gen(function*() {
          for (const target of [store, custom]) {
            for (const [label, items, index] of invalidItems) {
              ids.push(uniqueId("bad"))
              expect(shape(yield* Effect.flip(target.addItems(ids.at(-1)!, items as ReadonlyArray<Item>))), label).toEqual(invalid(index))
            }
            const error = yield* Effect.flip(target.addItems("", [item("x", 0)]))
            expect([error instanceof InvalidArgumentError, error._tag]).toEqual([true, "InvalidArgumentError"])
            ids.push(uniqueId("empty"))
            yield* target.addItems(ids.at(-1)!, [])
          }
        }).pipe(Effect.tagMetrics("tenant", tenant)))
        expect(spans.filter((r) => r.name === "sql.execute").length).toBe(0)
        for (const id of ids) {
          expect([yield* storedTexts(id, tables.messagesTable), yield* countSessions(id, tables.sessionsTable)]).toEqual([[], 0])
        }
        const n = invalidItems.length
        expect((yield* counters).map((c) => c.count)).toEqual([2 * n, 2, 2 * (n + 2)])
        for (const target of [store, custom]) {
          const id = uniqueId("good")
          yield* target.addItems(id, [item(id, 0)])
          expect(contents(yield* target.getItems(id, 3))).toEqual([`${id}#0`])
        }
      }))

    it.effect("an item whose traversal throws a non-Error value still fails with InvalidItemError", () =>
      Effect.gen(function*() {
        const store = yield* SessionStore
        const hostile = new Proxy({ role: "user" }, { getPrototypeOf: () => { throw null } }) // eslint-disable-line no-throw-literal
        const exit = yield* Effect.exit(store.addItems(uniqueId("proxy"), [hostile]))
        const failure = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
        expect(failure && shape(failure), Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "succeeded").toEqual(invalid(0))
      }))

    it.effect("the Promise wrapper rejects with the same tagged Error subclasses and keeps working", () =>
      Effect.gen(function*() {
        const url = db.dialect === "sqlite" ? "sqlite::memory:" : db.url
        expect(() => SqlSessionPool.fromUrl({ url, maxItemBytes: -1 })).toThrow(InvalidArgumentError)
        const pool = SqlSessionPool.fromUrl({ url, createTables: true, ...tables, maxItemBytes: 200 })
        yield* Effect.promise(async () => {
          try {
            const session = pool.session(uniqueId("promise"))
            for (const [label, items, index] of invalidItems) {
              const error = await session.addItems(items as ReadonlyArray<Item>).then(() => undefined, (e: unknown) => e)
              expect(shape(error), label).toEqual(invalid(index))
            }
            const badLimit = await session.getItems(1.5).then(() => undefined, (e: unknown) => e)
            expect([badLimit instanceof Error, (badLimit as Error).name, (badLimit as InvalidArgumentError)._tag])
              .toEqual([true, "InvalidArgumentError", "InvalidArgumentError"])
            await session.addItems([])
            expect(await session.getItems()).toEqual([])
            await session.addItems([item("p", 0)])
            expect(await session.getItems(2)).toEqual([item("p", 0)])
          } finally {
            await pool.close()
          }
        })
      }))

    it.effect("a custom schema refusing some rows: skipped, counted and logged on its own read's span only", () =>
      Effect.gen(function*() {
        const store = yield* SessionStore
        const custom = yield* SqlSessionStore.make({ ...tables, schema: Poisoned })
        const id = uniqueId("tainted")
        const neighbours = range(12).map(() => uniqueId("clean"))
        yield* seedTainted(id)
        yield* Effect.forEach(neighbours, (n) => store.addItems(n, [item(n, 0), item(n, 1)]), { discard: true })
        const before = yield* corrupt("getItems")
        // Read among other reads: on PostgreSQL they share combined statements.
        const { result, spans } = yield* recordSpans(Effect.forEach([...neighbours.slice(0, 6), id, ...neighbours.slice(6)], (session) =>
          custom.getItems(session, session === id ? 3 : 2), { concurrency: "unbounded" }))
        expect(contents(result[6]!)).toEqual(clean(id))
        expect(result.filter((_, i) => i !== 6).map(contents)).toEqual(neighbours.map((n) => [`${n}#0`, `${n}#1`]))
        expect((yield* corrupt("getItems")) - before).toBe(2)
        const { ours, stray } = ownership(spans)
        expect(stray).toEqual([])
        for (const read of ours) expect(skips(read, "getItems")).toBe(read.span.attributes.get("session.id") === id ? 2 : 0)
        // The whole history (one page): both rows logged and annotated on its own span.
        const whole = yield* recordSpans(custom.getItems(id))
        expect(contents(whole.result)).toEqual(clean(id))
        const wholeRead = whole.spans.find((r) => r.name === "SessionStore.getItems")
        expect([skips(wholeRead, "getItems"), wholeRead!.span.attributes.get("session.corrupt_rows")]).toEqual([2, 2])
      }))

    it.effect("a custom schema's pop logs and annotates the rows it skips on the pop's own span", () =>
      Effect.gen(function*() {
        const custom = yield* SqlSessionStore.make({ ...tables, schema: Poisoned })
        const id = uniqueId("tainted")
        yield* seedTainted(id)
        const before = yield* corrupt("popItem")
        // The second pop meets P3 (refused, but readable by Python: it stays) and takes c2.
        const pops = yield* recordSpans(Effect.all([custom.popItem(id), custom.popItem(id)]))
        expect(pops.result.map((p) => Option.map(p, (x) => x.content))).toEqual([Option.some(`${id}#4`), Option.some(`${id}#2`)])
        expect((yield* storedTexts(id, tables.messagesTable)).map((t) => JSON.parse(t).content)).toEqual([`${id}#0`, "poison 1", "poison 3"])
        expect(ownership(pops.spans).stray).toEqual([])
        const counted = (yield* corrupt("popItem")) - before
        const [first, second] = pops.spans.filter((r) => r.name === "SessionStore.popItem")
        expect(counted).toBeGreaterThanOrEqual(1)
        expect([skips(first, "popItem"), skips(second, "popItem"), second!.span.attributes.get("session.corrupt_rows")])
          .toEqual([0, counted, counted])
      }))

    it.effect("session.corrupt_rows counts every row a paging read skipped, not the last page's", () =>
      Effect.gen(function*() {
        const custom = yield* SqlSessionStore.make({ ...tables, schema: Poisoned })
        const id = uniqueId("paging")
        yield* seedTainted(id)
        // Newest 3: c4, P3, c2 (one refused); the next page of 1: P1 (refused); then c0.
        const { result, spans } = yield* recordSpans(custom.getItems(id, 3))
        expect(contents(result)).toEqual(clean(id))
        const read = spans.find((r) => r.name === "SessionStore.getItems")
        expect([skips(read, "getItems"), read!.span.attributes.get("session.corrupt_rows")]).toEqual([2, 2])
      }))

    it.effect("Effect.tagMetrics labels reach the batch-size histogram, one update per statement the batcher ran", () =>
      Effect.gen(function*() {
        const store = yield* SessionStore
        const tenant = uniqueId("tenant")
        const ids = range(24).map(() => uniqueId("hist"))
        const size = (operation: string) => metricWith("agent_session_batch_size", { operation, tenant })
        const untagged = Effect.all(["addItems", "getItems", "popItem", "clearSession"].map((operation) =>
          Effect.map(metricWith("agent_session_batch_size", { operation }, true), (m) => m.count)))
        const untaggedBefore = yield* untagged
        const run = <A, E>(f: (id: string) => Effect.Effect<A, E>) =>
          recordSpans(Effect.forEach(ids, f, { concurrency: "unbounded" }).pipe(Effect.tagMetrics("tenant", tenant)))
        // One statement run by the batcher = one leader (or lone call) owning statements.
        const leaders = (spans: ReadonlyArray<RecordedSpan>) => new Set(ownership(spans).statements.map(ownership(spans).ownerOf)).size
        const appends = yield* run((id) => store.addItems(id, [item(id, 0), item(id, 1)]))
        const reads = yield* run((id) => store.getItems(id, 1))
        const pops = yield* run((id) => store.popItem(id))
        const clears = yield* run((id) => store.clearSession(id))
        const added = yield* size("addItems")
        expect(added).toEqual({ count: leaders(appends.spans), sum: 24 })
        expect(added.count).toBeLessThan(24)
        // PostgreSQL batches reads and pops too, SQLite pops and clears; the rest run unbatched (no histogram).
        const batches = { getItems: db.dialect === "pg", popItem: db.dialect !== "mysql", clearSession: db.dialect === "sqlite" }
        for (const [operation, recorded] of [["getItems", reads], ["popItem", pops], ["clearSession", clears]] as const) {
          expect(yield* size(operation), operation).toEqual(
            batches[operation] ? { count: leaders(recorded.spans), sum: 24 } : { count: 0, sum: 0 }
          )
        }
        expect(reads.result.map(contents)).toEqual(ids.map((id) => [`${id}#1`]))
        expect(yield* untagged).toEqual(untaggedBefore)
      }))

    if (db.dialect === "mysql") {
      it.effect("a deadlock inside the caller's transaction is not retried outside it: what commits is serializable", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const sql = yield* SqlClient.SqlClient
          const a = uniqueId("dla"), b = uniqueId("dlb")
          yield* store.addItems(a, [item("a", 0)])
          yield* store.addItems(b, [item("b", 0)])
          const retries = Effect.map(metricWith("agent_session_retries_total", { operation: "popItem" }), (m) => m.count)
          const retriesBefore = yield* retries
          const [readyA, readyB] = [yield* Deferred.make<void>(), yield* Deferred.make<void>()]
          // Each appends to its own session, then pops the other's newest row, which the other has
          // just written: a lock cycle, and InnoDB rolls one whole transaction back (1213).
          const txn = (mine: string, other: string, me: Deferred.Deferred<void>, peer: Deferred.Deferred<void>) =>
            sql.withTransaction(Effect.gen(function*() {
              yield* store.addItems(mine, [item(mine === a ? "a" : "b", 1)])
              yield* Deferred.succeed(me, undefined)
              yield* Deferred.await(peer)
              yield* store.popItem(other)
            }))
          const [t1, t2] = yield* Effect.all([Effect.exit(txn(a, b, readyA, readyB)), Effect.exit(txn(b, a, readyB, readyA))], {
            concurrency: 2
          }).pipe(Effect.timeoutFail({ duration: Duration.seconds(20), onTimeout: () => "lock wait" }))
          const state = { a: contents(yield* store.getItems(a)), b: contents(yield* store.getItems(b)) }
          type State = typeof state
          const T1 = (s: State): State => ({ a: [...s.a, "a#1"], b: s.b.slice(0, -1) })
          const T2 = (s: State): State => ({ a: s.a.slice(0, -1), b: [...s.b, "b#1"] })
          const s0: State = { a: ["a#0"], b: ["b#0"] }
          const ok1 = Exit.isSuccess(t1), ok2 = Exit.isSuccess(t2)
          const allowed = ok1 && ok2 ? [T2(T1(s0)), T1(T2(s0))] : ok1 ? [T1(s0)] : ok2 ? [T2(s0)] : [s0]
          const retried = (yield* retries) - retriesBefore
          expect(allowed, `t1 ${ok1 ? "committed" : "failed"}, t2 ${ok2 ? "committed" : "failed"}, pops retried ${retried}`)
            .toContainEqual(state)
        }))
    }
  })
}

for (const db of all) suite(db)
