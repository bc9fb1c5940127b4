/**
 * What the store reports about itself, with natural batching on: which span each statement and
 * each log belongs to, and the operation counters. One function of a database, run on SQLite,
 * PostgreSQL and MariaDB.
 */
import { describe, expect, layer } from "@effect/vitest"
import { Duration, Effect, Metric, ParseResult, Schema, type Tracer } from "effect"
import * as vitest from "vitest"
import { type Item, ItemFromJson, SessionStore, SqlSessionStore } from "../../src/index.js"
import { type TestDatabase, uniqueId } from "../support/databases.js"
import { type RecordedSpan, recordSpans } from "../support/spans.js"
import { insertRaw, storeOnOwnTables } from "./support.js"

const range = (n: number) => Array.from({ length: n }, (_, index) => index)

const item = (call: string, index: number): Item => ({ role: "user", content: `${call}#${index}` })

/** The current value of a counter with exactly these tags among its own (and maybe others). */
const counterWith = (name: string, tags: Record<string, string>) =>
  Effect.map(Metric.snapshot, (pairs) =>
    pairs
      .filter((pair) =>
        pair.metricKey.name === name &&
        Object.entries(tags).every(([key, value]) =>
          pair.metricKey.tags.some((tag) => tag.key === key && tag.value === value)
        )
      )
      .reduce((sum, pair) => sum + Number((pair.metricState as { count?: number }).count ?? 0), 0))

export const observabilitySuite = (db: TestDatabase) => {
  if (db.unavailable !== undefined) {
    describe.skip(`observability on ${db.label} (skipped: ${db.unavailable})`, () => {
      vitest.it("observability suite", () => {})
    })
    return
  }

  const { layer: StoreLive, tables } = storeOnOwnTables(db, "obs")

  layer(StoreLive, { timeout: Duration.seconds(60) })(`observability on ${db.label}`, (it) => {
    it.effect("every statement's span is a child of the span of the call that sent it, batched or not", () =>
      Effect.gen(function*() {
        const store = yield* SessionStore
        const unbatched = yield* SqlSessionStore.make({ ...tables, batching: false })
        const sessions = range(24).map(() => uniqueId("obs"))
        const { result: callerSpan, spans } = yield* recordSpans(
          Effect.withSpan(
            Effect.gen(function*() {
              const caller = yield* Effect.currentSpan
              yield* Effect.forEach(sessions, (id, n) => store.addItems(id, [item(`a${n}`, 0), item(`a${n}`, 1)]), {
                concurrency: "unbounded",
                discard: true
              })
              yield* Effect.forEach(sessions, (id) => store.getItems(id, 1), { concurrency: "unbounded" })
              yield* Effect.forEach(sessions.slice(0, 8), (id) => store.popItem(id), { concurrency: "unbounded" })
              yield* store.getItems(sessions[0]!)
              yield* store.clearSession(sessions[1]!)
              yield* unbatched.addItems(sessions[2]!, [item("u", 0)])
              yield* unbatched.getItems(sessions[2]!, 5)
              return caller
            }),
            "caller"
          )
        )
        const ours = spans.filter((recorded) => recorded.name.startsWith("SessionStore."))
        expect(ours.length).toBe(24 + 24 + 8 + 4)
        for (const recorded of ours) expect(recorded.parent).toBe(callerSpan)
        // A statement's owner: its nearest ancestor that is not a transaction's span.
        const transactions = new Map(
          spans.filter((recorded) => recorded.name === "sql.transaction").map((recorded) => [recorded.span, recorded.parent])
        )
        const ownerOf = (recorded: RecordedSpan) => {
          let owner = recorded.parent
          while (owner !== undefined && transactions.has(owner as Tracer.Span)) owner = transactions.get(owner as Tracer.Span)
          return owner as Tracer.Span | undefined
        }
        const statements = spans.filter((recorded) => recorded.name === "sql.execute")
        const oursSet = new Set<Tracer.AnySpan>(ours.map((recorded) => recorded.span))
        for (const statement of statements) expect(oursSet.has(ownerOf(statement)!)).toBe(true)
        // Batching really happened: the 24 concurrent appends (the only appends with a batch size)
        // went out in fewer statements than calls, and a combined one belongs to a call whose
        // statement carried others.
        const appendOwners = statements.map(ownerOf).filter((owner) =>
          owner!.name === "SessionStore.addItems" && owner!.attributes.has("session.batch_size")
        )
        const perCall = db.dialect === "pg" ? 1 : 2
        expect(appendOwners.length).toBeGreaterThan(0)
        expect(appendOwners.length).toBeLessThan(24 * perCall)
        expect(appendOwners.some((owner) => (owner!.attributes.get("session.batch_size") as number) > 1)).toBe(true)
      }))

    it.effect("a custom schema's own spans are children of the operation's span", () =>
      Effect.gen(function*() {
        // A schema whose encode and decode are effects with spans of their own (as an encrypting
        // schema calling a key service would be).
        const traced = Schema.transformOrFail(Schema.String, Schema.typeSchema(ItemFromJson), {
          strict: true,
          decode: (text) =>
            Effect.withSpan(ParseResult.decodeUnknown(ItemFromJson)(text), "schema.decode"),
          encode: (value) =>
            Effect.withSpan(ParseResult.encodeUnknown(ItemFromJson)(value), "schema.encode")
        })
        const store = yield* SqlSessionStore.make({ ...tables, schema: traced })
        const ids = range(6).map(() => uniqueId("schema"))
        const { spans } = yield* recordSpans(Effect.forEach(ids, (id) =>
          Effect.zipRight(store.addItems(id, [item(id, 0)]), store.getItems(id, 2)), { concurrency: "unbounded" }))
        const own = spans.filter((recorded) => recorded.name.startsWith("schema."))
        expect(own.length).toBe(12)
        for (const recorded of own) {
          const parent = recorded.parent as Tracer.Span
          expect(parent.name).toBe(recorded.name === "schema.encode" ? "SessionStore.addItems" : "SessionStore.getItems")
        }
      }))

    it.effect("a row that fails to decode is skipped, logged on the read's span and counted", () =>
      Effect.gen(function*() {
        const store = yield* SessionStore
        const id = uniqueId("corrupt")
        const neighbours = range(12).map(() => uniqueId("clean"))
        yield* Effect.forEach([id, ...neighbours], (session) => store.addItems(session, [item(session, 0)]), {
          discard: true
        })
        yield* insertRaw(id, "{not json", tables.messagesTable, tables.sessionsTable)
        const counted = () => counterWith("agent_session_corrupt_rows_total", { operation: "getItems" })
        const before = yield* counted()
        // Read alongside other reads, so that on PostgreSQL it may ride in another call's statement.
        const { result, spans } = yield* recordSpans(
          Effect.forEach([...neighbours, id, ...neighbours], (session) => store.getItems(session, 5), {
            concurrency: "unbounded"
          })
        )
        expect(result[neighbours.length]).toEqual([item(id, 0)])
        expect((yield* counted()) - before).toBe(1)
        const read = spans.find((recorded) =>
          recorded.name === "SessionStore.getItems" && recorded.span.attributes.get("session.id") === id
        )!.span as Tracer.Span & { readonly events: ReadonlyArray<readonly [string, bigint, Record<string, unknown>]> }
        expect(read.attributes.get("session.corrupt_rows")).toBe(1)
        expect(read.events.map(([message]) => message)).toContain("getItems: skipped a stored row that failed to decode")
      }))

    it.effect("counts every call and every failure with the caller's metric labels", () =>
      Effect.gen(function*() {
        const store = yield* SessionStore
        const tenant = uniqueId("tenant")
        const counters = Effect.all([
          counterWith("agent_session_operations_total", { operation: "addItems", tenant }),
          counterWith("agent_session_failures_total", { operation: "addItems", tenant, error: "InvalidArgumentError" }),
          counterWith("agent_session_operations_total", { operation: "getItems", tenant })
        ])
        yield* Effect.forEach(range(6), (n) => store.addItems(uniqueId("tagged"), [item(`t${n}`, 0)]), {
          concurrency: "unbounded",
          discard: true
        }).pipe(
          Effect.zipRight(Effect.flip(store.addItems("", [item("bad", 0)]))),
          Effect.zipRight(store.getItems(uniqueId("tagged"), 3)),
          Effect.tagMetrics("tenant", tenant)
        )
        expect(yield* counters).toEqual([7, 1, 1])
      }))
  })
}
