/**
 * The behaviour suite of the catalogue (owners, titles, metadata, listing, pruning, export and
 * import): one function of a database, run on SQLite, PostgreSQL and MariaDB. The database is
 * shared between tests, so every test uses its own session ids and its own owner.
 */
import { SqlClient } from "@effect/sql"
import { assert, describe, expect, layer } from "@effect/vitest"
import { Chunk, Deferred, Duration, Effect, Exit, Fiber, Layer, Metric, Option, Schedule, Scope, Stream, TestServices } from "effect"
import * as vitest from "vitest"
import {
  type ExportRecord,
  InvalidArgumentError,
  SessionArchive,
  SessionImportError,
  SessionMetrics,
  SessionStore,
  SqlSessionStore
} from "../../src/index.js"
import { afterPruneCandidates } from "../../src/internal/catalog.js"
import { type TestDatabase, uniqueId } from "../support/databases.js"
import { count, spanNames } from "../support/spans.js"
import { countMessages, countSessions, insertRaw, storedTexts } from "./support.js"

const msg = (n: number): { role: string; content: string } => ({ role: "user", content: `m${n}` })

/** Sets a session's updated_at to a UTC wall-clock time, the way every dialect stores it. */
const setUpdatedAt = (sessionId: string, wallClock: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`UPDATE agent_sessions SET updated_at = ${wallClock} WHERE session_id = ${sessionId}`)

const countOperations = (sessionId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ n: number | string }>`SELECT COUNT(*) AS n FROM agent_session_operations WHERE session_id = ${sessionId}`.pipe(
      Effect.map((rows) => Number(rows[0]!.n))
    ))

/** Every page of a listing, following the cursors. */
const allPages = (options: { owner: string; limit: number; updatedAfter?: Date; updatedBefore?: Date }) =>
  Effect.gen(function*() {
    const store = yield* SessionStore
    const ids: Array<string> = []
    let cursor: string | undefined
    let pages = 0
    do {
      const page = yield* store.listSessions({ ...options, cursor })
      ids.push(...page.sessions.map((session) => session.sessionId))
      cursor = page.nextCursor
      pages++
    } while (cursor !== undefined)
    return { ids, pages }
  })

export const catalogueSuite = (db: TestDatabase) => {
  if (db.unavailable !== undefined) {
    describe.skip(`catalogue on ${db.label} (skipped: ${db.unavailable})`, () => {
      vitest.it("catalogue suite", () => {})
    })
    return
  }

  const StoreLive = SqlSessionStore.layer({ createTables: true }).pipe(Layer.provideMerge(db.layer))

  layer(StoreLive, { timeout: Duration.seconds(120) })(`catalogue on ${db.label}`, (it) => {
    describe("session fields", () => {
      it.effect("reads a session written only through addItems as owner null, title null, metadata {}", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const id = uniqueId()
          yield* store.addItems(id, [msg(1), msg(2)])
          const info = Option.getOrThrow(yield* store.getSession(id))
          expect(info).toMatchObject({ sessionId: id, owner: null, title: null, metadata: {}, expiresAt: null, itemCount: 2 })
          assert.instanceOf(info.createdAt, Date)
          // The instants are real UTC instants (SQLite keeps seconds): within a day of now.
          expect(Math.abs(info.updatedAt.getTime() - Date.now())).toBeLessThan(86_400_000)
          expect(info.updatedAt.getTime()).toBeGreaterThanOrEqual(info.createdAt.getTime())
          expect(Option.isNone(yield* store.getSession(uniqueId("missing")))).toBe(true)
        }))

      it.effect("reads a row the Python SDK wrote (NULL catalogue columns) with the defaults", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const id = uniqueId("py")
          yield* insertRaw(id, JSON.stringify(msg(1)))
          expect(Option.getOrThrow(yield* store.getSession(id))).toMatchObject({
            owner: null,
            title: null,
            metadata: {},
            expiresAt: null,
            itemCount: 1
          })
        }))

      it.effect("creates the session, replaces present fields, leaves absent ones, replaces metadata whole", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const id = uniqueId()
          const owner = uniqueId("owner")
          const expiresAt = new Date("2031-02-03T04:05:06.789Z")
          yield* store.updateSession(id, { owner, title: "Trip to Lisbon", metadata: { a: 1, nested: { b: [1, 2] } }, expiresAt })
          expect(yield* countSessions(id)).toBe(1)
          expect(Option.getOrThrow(yield* store.getSession(id))).toMatchObject({
            owner,
            title: "Trip to Lisbon",
            metadata: { a: 1, nested: { b: [1, 2] } },
            expiresAt,
            itemCount: 0
          })
          yield* store.updateSession(id, { metadata: { c: "✓" } })
          expect(Option.getOrThrow(yield* store.getSession(id))).toMatchObject({
            owner,
            title: "Trip to Lisbon",
            metadata: { c: "✓" },
            expiresAt
          })
          yield* store.updateSession(id, { title: null, expiresAt: null })
          expect(Option.getOrThrow(yield* store.getSession(id))).toMatchObject({ owner, title: null, expiresAt: null })
          // The items are untouched by all this, and the fields by writes of items.
          yield* store.addItems(id, [msg(1)])
          expect(Option.getOrThrow(yield* store.getSession(id))).toMatchObject({ owner, metadata: { c: "✓" }, itemCount: 1 })
        }))

      it.effect("touches updatedAt and keeps createdAt", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const id = uniqueId()
          yield* store.updateSession(id, {})
          yield* setUpdatedAt(id, "2001-02-03 04:05:06")
          const before = Option.getOrThrow(yield* store.getSession(id))
          expect(before.updatedAt.toISOString()).toBe("2001-02-03T04:05:06.000Z")
          yield* store.updateSession(id, { title: "t" })
          const after = Option.getOrThrow(yield* store.getSession(id))
          expect(after.updatedAt.getTime()).toBeGreaterThan(before.updatedAt.getTime())
          expect(after.createdAt).toEqual(before.createdAt)
        }))

      it.effect("refuses fields it cannot store with InvalidArgumentError, before any SQL", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const id = uniqueId()
          const cyclic: Record<string, unknown> = {}
          cyclic.self = cyclic
          const bad: ReadonlyArray<readonly [string, unknown]> = [
            ["owner", { owner: 42 }],
            ["owner", { owner: "x".repeat(256) }],
            ["title", { title: "nul\u0000" }],
            ["title", { title: "y".repeat(1001) }],
            ["metadata", { metadata: [1, 2] }],
            ["metadata", { metadata: null }],
            ["metadata", { metadata: cyclic }],
            ["metadata", { metadata: { big: "z".repeat(70_000) } }],
            ["expiresAt", { expiresAt: new Date(Number.NaN) }],
            ["expiresAt", { expiresAt: "2030-01-01" }],
            ["patch", null]
          ]
          for (const [argument, patch] of bad) {
            const error = yield* Effect.flip(store.updateSession(id, patch as never))
            assert.instanceOf(error, InvalidArgumentError)
            expect(error.argument).toBe(argument)
          }
          expect(yield* countSessions(id)).toBe(0)
          const badId = yield* Effect.flip(store.updateSession("", {}))
          assert.instanceOf(badId, InvalidArgumentError)
          expect(badId.argument).toBe("sessionId")
        }))
    })

    describe("listSessions", () => {
      /** Sessions of one owner with known updated_at values, two of them tied. */
      const seed = (owner: string) =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const times = [
            "2024-01-01 00:00:01",
            "2024-01-01 00:00:02",
            "2024-01-01 00:00:03",
            "2024-01-01 00:00:03",
            "2024-01-01 00:00:04",
            "2024-01-01 00:00:05",
            "2024-01-01 00:00:06"
          ]
          const ids = times.map((_, index) => `${owner}-s${index}`)
          for (const [index, id] of ids.entries()) {
            yield* store.updateSession(id, { owner, title: `t${index}` })
            yield* setUpdatedAt(id, times[index]!)
          }
          // Newest first; the tie (s2, s3) by session id, descending.
          return ["s6", "s5", "s4", "s3", "s2", "s1", "s0"].map((suffix) => `${owner}-${suffix}`)
        })

      it.effect("lists an owner's sessions newest first, ties by session id, over cursor pages", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const owner = uniqueId("owner")
          const expected = yield* seed(owner)
          for (const limit of [1, 2, 3, 7, 50]) {
            const { ids, pages } = yield* allPages({ owner, limit })
            expect(ids).toEqual(expected)
            expect(pages).toBe(Math.max(1, Math.ceil(expected.length / limit)))
          }
          const first = yield* store.listSessions({ owner, limit: 2 })
          expect(first.sessions[0]).toMatchObject({ sessionId: expected[0], owner, title: "t6", metadata: {}, itemCount: 0 })
          expect(first.sessions[0]!.updatedAt.toISOString()).toBe("2024-01-01T00:00:06.000Z")
          // The default page size is 50, and an owner with no sessions has an empty last page.
          expect((yield* store.listSessions({ owner })).sessions.length).toBe(7)
          expect(yield* store.listSessions({ owner: uniqueId("nobody") })).toEqual({ sessions: [], nextCursor: undefined })
        }))

      it.effect("filters by updatedAfter and updatedBefore, strictly, with cursors", () =>
        Effect.gen(function*() {
          const owner = uniqueId("owner")
          const expected = yield* seed(owner)
          const { ids } = yield* allPages({
            owner,
            limit: 2,
            updatedAfter: new Date("2024-01-01T00:00:02Z"),
            updatedBefore: new Date("2024-01-01T00:00:06Z")
          })
          expect(ids).toEqual(expected.slice(1, 5))
        }))

      it.effect("does not skip or repeat a session that is written to between pages", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const owner = uniqueId("owner")
          const expected = yield* seed(owner)
          const first = yield* store.listSessions({ owner, limit: 3 })
          // A session of the next page moves to the top: it is not on the later pages any more.
          yield* store.addItems(expected[4]!, [msg(1)])
          const rest = yield* allPagesFrom(owner, 3, first.nextCursor)
          const seen = [...first.sessions.map((session) => session.sessionId), ...rest]
          expect(new Set(seen).size).toBe(seen.length)
          expect(seen).toEqual([...expected.slice(0, 4), ...expected.slice(5)])
        }))

      it.effect("refuses a bad limit, a garbage, damaged or foreign cursor with InvalidArgumentError", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const owner = uniqueId("owner")
          yield* seed(owner)
          const page = yield* store.listSessions({ owner, limit: 2 })
          const cursor = page.nextCursor!
          for (const limit of [0, -1, 1001, 1.5, Number.NaN]) {
            const error = yield* Effect.flip(store.listSessions({ owner, limit }))
            expect(error._tag).toBe("InvalidArgumentError")
            expect((error as InvalidArgumentError).argument).toBe("limit")
          }
          const [body, checksum] = cursor.split(".") as [string, string]
          const damaged = `${body.slice(0, -2)}${body.endsWith("A") ? "B" : "A"}${body.slice(-1)}.${checksum}`
          for (
            const [options, why] of [
              [{ owner, cursor: "garbage" }, "garbage"],
              [{ owner, cursor: "" }, "empty"],
              [{ owner, cursor: damaged }, "damaged"],
              [{ owner: uniqueId("other"), cursor }, "another owner"],
              [{ cursor }, "no owner"],
              [{ owner, updatedAfter: new Date(0), cursor }, "another date range"]
            ] as const
          ) {
            const error = yield* Effect.flip(store.listSessions(options))
            expect(error._tag, why).toBe("InvalidArgumentError")
            expect((error as InvalidArgumentError).argument, why).toBe("cursor")
          }
          // The cursor itself still works, in any store over the same tables.
          const other = yield* SqlSessionStore.make({})
          expect((yield* other.listSessions({ owner, limit: 2, cursor })).sessions.length).toBe(2)
        }))

      it.effect("lists every owner's sessions without an owner filter", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const owner = uniqueId("owner")
          const id = `${owner}-latest`
          yield* store.updateSession(id, { owner })
          yield* setUpdatedAt(id, "2099-01-01 00:00:00")
          const page = yield* store.listSessions({ limit: 5 })
          expect(page.sessions.map((session) => session.sessionId)).toContain(id)
          yield* store.clearSession(id)
        }))
    })

    describe("deleteSessions", () => {
      it.effect("deletes idle and expired sessions with their items and operation ids, and nothing else", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const owner = uniqueId("owner")
          const idle = `${owner}-idle`
          const live = `${owner}-live`
          const expired = `${owner}-expired`
          const notYet = `${owner}-not-yet`
          const foreign = uniqueId("foreign")
          for (const id of [idle, live, expired, notYet]) {
            yield* store.updateSession(id, { owner })
            yield* store.addItems(id, [msg(1), msg(2)])
          }
          yield* store.applyHistoryTransaction(idle, {
            operationId: "op",
            transaction: { type: "append_items", items: [msg(3)] }
          })
          yield* store.updateSession(foreign, { owner: uniqueId("other") })
          yield* setUpdatedAt(idle, "2001-01-01 00:00:00")
          yield* setUpdatedAt(foreign, "2001-01-01 00:00:00")
          yield* store.updateSession(expired, { expiresAt: new Date(Date.now() - 60_000) })
          yield* store.updateSession(notYet, { expiresAt: new Date(Date.now() + 3_600_000) })

          expect(yield* store.deleteSessions({ owner, idleBefore: new Date("2020-01-01T00:00:00Z") })).toBe(1)
          expect(yield* countSessions(idle)).toBe(0)
          expect(yield* countMessages(idle)).toBe(0)
          expect(yield* countOperations(idle)).toBe(0)
          expect(yield* countSessions(foreign)).toBe(1)

          // "Expired" is judged by the clock: the real one here, not the test clock.
          expect(yield* TestServices.provideLive(store.deleteSessions({ owner, expired: true }))).toBe(1)
          expect(yield* countSessions(expired)).toBe(0)
          expect(yield* countMessages(expired)).toBe(0)
          for (const id of [live, notYet]) {
            expect(yield* countSessions(id)).toBe(1)
            expect(yield* countMessages(id)).toBe(2)
          }
          // An owner alone: all of that owner's sessions, for example to erase a user.
          expect(yield* store.deleteSessions({ owner })).toBe(2)
          expect(yield* countMessages(live)).toBe(0)
          expect(yield* countSessions(foreign)).toBe(1)
        }))

      it.effect("refuses to delete every session, and bad filters", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          for (const filter of [{}, { expired: false }, { idleBefore: new Date(Number.NaN) }, { owner: 7 }]) {
            const error = yield* Effect.flip(store.deleteSessions(filter as never))
            assert.instanceOf(error, InvalidArgumentError)
          }
        }))

      it.effect("never deletes a session written to after it was picked as a candidate", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const owner = uniqueId("owner")
          const touched = `${owner}-touched`
          const idle = `${owner}-idle`
          for (const id of [touched, idle]) {
            yield* store.addItems(id, [msg(1)])
            yield* store.updateSession(id, { owner })
            yield* setUpdatedAt(id, "2001-01-01 00:00:00")
          }
          const seen: Array<ReadonlyArray<string>> = []
          // Between choosing the candidates and deleting them, an append to one of them is
          // acknowledged: it must survive.
          const deleted = yield* store.deleteSessions({ owner, idleBefore: new Date("2020-01-01T00:00:00Z") }).pipe(
            Effect.locally(afterPruneCandidates, (ids) =>
              Effect.sync(() => seen.push(ids)).pipe(
                Effect.zipRight(store.addItems(touched, [msg(2)]).pipe(Effect.orDie))
              ))
          )
          expect(seen[0]).toContain(touched)
          expect(deleted).toBe(1)
          expect(yield* countSessions(idle)).toBe(0)
          expect(yield* storedTexts(touched)).toEqual([JSON.stringify(msg(1)), JSON.stringify(msg(2))])
          expect(yield* countSessions(touched)).toBe(1)
        }))

      it.effect("deletes each session once when several pruners run at once, over many batches", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const sql = yield* SqlClient.SqlClient
          const owner = uniqueId("owner")
          const total = 1234
          const rows = Array.from({ length: total }, (_, index) => ({
            session_id: `${owner}-${String(index).padStart(5, "0")}`,
            owner,
            updated_at: "2001-01-01 00:00:00"
          }))
          for (let start = 0; start < total; start += 200) {
            yield* sql`INSERT INTO agent_sessions ${sql.insert(rows.slice(start, start + 200))}`
          }
          yield* store.addItems(rows[0]!.session_id, [msg(1)])
          yield* setUpdatedAt(rows[0]!.session_id, "2001-01-01 00:00:00")
          const counts = yield* Effect.all(
            Array.from({ length: 4 }, () => store.deleteSessions({ owner, idleBefore: new Date("2020-01-01T00:00:00Z") })),
            { concurrency: "unbounded" }
          )
          expect(counts.reduce((a, b) => a + b, 0)).toBe(total)
          expect((yield* store.listSessions({ owner })).sessions).toEqual([])
          expect(yield* countMessages(rows[0]!.session_id)).toBe(0)
        }))

      // SQLite has one connection and no row locks to skip.
      if (db.dialect !== "sqlite") {
        it.effect("reads the candidates again after a batch it found locked, and deletes them once free", () =>
          Effect.gen(function*() {
            const store = yield* SessionStore
            const sql = yield* SqlClient.SqlClient
            const owner = uniqueId("owner")
            const ids = [`${owner}-a`, `${owner}-b`]
            for (const id of ids) {
              yield* store.addItems(id, [msg(1)])
              yield* store.updateSession(id, { owner })
              yield* setUpdatedAt(id, "2001-01-01 00:00:00")
            }
            // Another connection's transaction holds both rows through the pruner's first batch,
            // which skips them as locked, and lets them go when the pruner reads the candidates again.
            const locked = yield* Deferred.make<void>()
            const release = yield* Deferred.make<void>()
            const holder = yield* Effect.fork(sql.withTransaction(
              sql`SELECT session_id FROM agent_sessions WHERE owner = ${owner} FOR UPDATE`.pipe(
                Effect.zipRight(Deferred.succeed(locked, undefined)),
                Effect.zipRight(Deferred.await(release))
              )
            ))
            yield* Deferred.await(locked)
            let reads = 0
            const deleted = yield* store.deleteSessions({ owner, idleBefore: new Date("2020-01-01T00:00:00Z") }).pipe(
              Effect.locally(afterPruneCandidates, () =>
                Effect.suspend(() => {
                  reads++
                  return reads === 2 ? Effect.zipRight(Deferred.succeed(release, undefined), Fiber.join(holder)) : Effect.void
                }).pipe(Effect.orDie))
            )
            expect(reads).toBe(2)
            expect(deleted).toBe(2)
            expect(yield* countSessions(ids[0]!)).toBe(0)
            expect(yield* countSessions(ids[1]!)).toBe(0)
          }))
      }
    })

    describe("export and import", () => {
      const exportAll = (store: SessionStore["Type"], options: Parameters<SessionStore["Type"]["exportSessions"]>[0]) =>
        Stream.runCollect(store.exportSessions(options)).pipe(Effect.map(Chunk.toReadonlyArray))

      it.effect("exports sessions in session-id order, a header then the items in order", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const owner = uniqueId("owner")
          const ids = [`${owner}-b`, `${owner}-a`, `${owner}-c`]
          yield* store.addItems(ids[0]!, [msg(1), msg(2)])
          yield* store.updateSession(ids[0]!, { owner, title: "B", metadata: { k: [1] } })
          yield* store.updateSession(ids[1]!, { owner })
          yield* store.addItems(ids[2]!, Array.from({ length: 1203 }, (_, n) => msg(n)))
          yield* store.updateSession(ids[2]!, { owner, expiresAt: new Date("2040-01-01T00:00:00.250Z") })
          const records = yield* exportAll(store, { owner })
          const headers = records.filter((record) => record.type === "session")
          expect(headers.map((record) => record.sessionId)).toEqual([`${owner}-a`, `${owner}-b`, `${owner}-c`])
          expect(headers[1]).toMatchObject({ version: 1, owner, title: "B", metadata: { k: [1] }, expiresAt: null })
          expect(headers[2]).toMatchObject({ expiresAt: "2040-01-01T00:00:00.250Z" })
          expect(records[0]).toMatchObject({ type: "session", sessionId: `${owner}-a` })
          expect(records[1]).toMatchObject({ type: "session", sessionId: `${owner}-b` })
          expect(records.slice(2, 4)).toEqual([
            { type: "item", version: 1, sessionId: `${owner}-b`, data: JSON.stringify(msg(1)) },
            { type: "item", version: 1, sessionId: `${owner}-b`, data: JSON.stringify(msg(2)) }
          ])
          const items = records.slice(5).map((record) => JSON.parse((record as { data: string }).data).content)
          expect(items).toEqual(Array.from({ length: 1203 }, (_, n) => `m${n}`))
          // Listed ids: in the order given, once each, unknown ids left out.
          const listed = yield* exportAll(store, { sessionIds: [ids[2]!, ids[1]!, ids[2]!, uniqueId("none")] })
          expect(listed.filter((record) => record.type === "session").map((record) => record.sessionId)).toEqual([
            ids[2],
            ids[1]
          ])
        }))

      it.effect("streams a large session page by page, never reading it whole", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const owner = uniqueId("owner")
          const id = `${owner}-big`
          yield* store.updateSession(id, { owner })
          for (let batch = 0; batch < 3; batch++) {
            yield* store.addItems(id, Array.from({ length: 1000 }, (_, n) => msg(batch * 1000 + n)))
          }
          // The first records cost one page of sessions and one page of items.
          const first = yield* spanNames(Stream.runCollect(Stream.take(store.exportSessions({ owner }), 3)))
          expect(count(first, "sql.execute")).toBe(2)
          // The whole export: one page of sessions, and 3,000 items in pages of 500 (the sixth full
          // page asks for a seventh, which is empty).
          const whole = yield* spanNames(Stream.runDrain(store.exportSessions({ owner })))
          expect(count(whole, "sql.execute")).toBe(1 + 7)
        }))

      it.effect("imports an export into fresh sessions: same items, same fields, same dates", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const owner = uniqueId("owner")
          const id = `${owner}-x`
          const items = [msg(1), { type: "message", content: [{ type: "input_image", bytes: new Uint8Array([0, 1, 255]) }] }]
          yield* store.addItems(id, items)
          yield* store.updateSession(id, { owner, title: "Ünïcødé", metadata: { tags: ["a"] }, expiresAt: new Date("2039-05-06T07:08:09.010Z") })
          const lines = yield* Stream.runCollect(SessionArchive.toJsonLines(store.exportSessions({ owner })))
          const info = Option.getOrThrow(yield* store.getSession(id))
          const texts = yield* storedTexts(id)
          yield* store.clearSession(id)

          // Back in as text, split into odd chunks the way a file is read.
          const text = Chunk.join(lines, "")
          const chunks = Array.from({ length: Math.ceil(text.length / 7) }, (_, n) => text.slice(n * 7, n * 7 + 7))
          const summary = yield* store.importSessions(SessionArchive.fromJsonLines(Stream.fromIterable(chunks)), {
            onConflict: "fail"
          })
          expect(summary).toEqual({ sessions: 1, skipped: 0, items: 2 })
          expect(yield* storedTexts(id)).toEqual(texts)
          expect(yield* store.getItems(id)).toEqual(items)
          const restored = Option.getOrThrow(yield* store.getSession(id))
          expect(restored).toEqual(info)
        }))

      it.effect("on an existing session: fail, skip, replace or append", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const owner = uniqueId("owner")
          const id = `${owner}-s`
          yield* store.addItems(id, [msg(1)])
          yield* store.updateSession(id, { owner, title: "mine" })
          const header = (title: string): ExportRecord => ({
            type: "session",
            version: 1,
            sessionId: id,
            owner,
            title,
            metadata: { from: "import" },
            createdAt: "2020-01-01T00:00:00.000Z",
            updatedAt: "2020-01-02T00:00:00.000Z",
            expiresAt: null
          })
          const item = (n: number): ExportRecord => ({ type: "item", version: 1, sessionId: id, data: JSON.stringify(msg(n)) })
          const input = Stream.make(header("theirs"), item(8), item(9))

          const conflict = yield* Effect.flip(store.importSessions(input, { onConflict: "fail" }))
          assert.instanceOf(conflict, SessionImportError)
          expect(conflict.reason).toBe("conflict")
          expect(conflict.sessionId).toBe(id)
          expect(yield* storedTexts(id)).toEqual([JSON.stringify(msg(1))])

          expect(yield* store.importSessions(input, { onConflict: "skip" })).toEqual({ sessions: 0, skipped: 1, items: 0 })
          expect(yield* storedTexts(id)).toEqual([JSON.stringify(msg(1))])

          expect(yield* store.importSessions(input, { onConflict: "append" })).toEqual({ sessions: 1, skipped: 0, items: 2 })
          expect((yield* store.getItems(id)).map((i) => i.content)).toEqual(["m1", "m8", "m9"])
          expect(Option.getOrThrow(yield* store.getSession(id)).title).toBe("mine")

          yield* store.applyHistoryTransaction(id, { operationId: "op", transaction: { type: "append_items", items: [] } })
          expect(yield* store.importSessions(input, { onConflict: "replace" })).toEqual({ sessions: 1, skipped: 0, items: 2 })
          expect((yield* store.getItems(id)).map((i) => i.content)).toEqual(["m8", "m9"])
          expect(yield* countOperations(id)).toBe(0)
          const replaced = Option.getOrThrow(yield* store.getSession(id))
          expect(replaced).toMatchObject({ title: "theirs", metadata: { from: "import" } })
          expect(replaced.createdAt.toISOString()).toBe("2020-01-01T00:00:00.000Z")
          expect(replaced.updatedAt.toISOString()).toBe("2020-01-02T00:00:00.000Z")

          const badMode = yield* Effect.flip(store.importSessions(input, { onConflict: "merge" as never }))
          expect(badMode._tag).toBe("InvalidArgumentError")
        }))

      it.effect("stops at a malformed line with its number; earlier sessions stay, the current one rolls back", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const owner = uniqueId("owner")
          const header = (sessionId: string) =>
            JSON.stringify({
              type: "session",
              version: 1,
              sessionId,
              owner,
              title: null,
              metadata: {},
              createdAt: "2020-01-01T00:00:00Z",
              updatedAt: "2020-01-01T00:00:00Z",
              expiresAt: null
            })
          const item = (sessionId: string, n: number) =>
            JSON.stringify({ type: "item", version: 1, sessionId, data: JSON.stringify(msg(n)) })
          const [a, b] = [`${owner}-a`, `${owner}-b`]
          const cases: ReadonlyArray<readonly [ReadonlyArray<string>, number]> = [
            [[header(a), item(a, 1), "", header(b), item(b, 1), "{not json"], 6],
            [[header(a), item(a, 1), header(b), item(a, 2)], 4],
            [[header(a), item(a, 1), header(b), JSON.stringify({ type: "item", version: 2, sessionId: b, data: "{}" })], 4],
            [[header(a), header(b), JSON.stringify({ type: "item", version: 1, sessionId: b, data: 5 })], 3],
            [[header(a), header(b), JSON.stringify({ type: "other", version: 1, sessionId: b })], 3]
          ]
          for (const [lines, line] of cases) {
            const error = yield* Effect.flip(store.importSessions(Stream.fromIterable(lines), { onConflict: "replace" }))
            assert.instanceOf(error, SessionImportError)
            expect(error.reason).toBe("malformed")
            expect(error.line).toBe(line)
            expect(error.message).toContain(`line ${line}`)
            expect(yield* countSessions(a)).toBe(1)
            expect(yield* countSessions(b)).toBe(0)
            expect(yield* countMessages(b)).toBe(0)
          }
          const early = yield* Effect.flip(store.importSessions(Stream.make(item(a, 1)), { onConflict: "skip" }))
          expect(early).toMatchObject({ _tag: "SessionImportError", line: 1 })
        }))
    })

    describe("retention", () => {
      it.effect("prunes idle and expired sessions in the background and stops with its scope", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const owner = uniqueId("owner")
          const [idle, expired, live, later] = ["idle", "expired", "live", "later"].map((s) => `${owner}-${s}`) as [
            string,
            string,
            string,
            string
          ]
          for (const id of [idle, expired, live]) yield* store.updateSession(id, { owner })
          yield* setUpdatedAt(idle, "2001-01-01 00:00:00")
          yield* store.updateSession(expired, { expiresAt: new Date(Date.now() - 1000) })
          const pruned = Metric.tagged(SessionMetrics.prunedSessions, "reason", "idle")
          const before = (yield* Metric.value(pruned)).count

          const scope = yield* Scope.make()
          yield* Layer.buildWithScope(
            SqlSessionStore.layerRetention({ idleFor: "1 hour", every: "20 millis", owner }).pipe(
              Layer.provide(Layer.succeed(SessionStore, store))
            ),
            scope
          )
          yield* countSessions(idle).pipe(
            Effect.zip(countSessions(expired)),
            Effect.repeat({ until: ([a, b]) => a === 0 && b === 0, schedule: Schedule.spaced("20 millis") }),
            Effect.timeout("20 seconds")
          )
          expect(yield* countSessions(live)).toBe(1)
          expect((yield* Metric.value(pruned)).count).toBeGreaterThan(before)
          yield* Scope.close(scope, Exit.void)

          // After the scope closes nothing prunes any more.
          yield* store.updateSession(later, { owner })
          yield* setUpdatedAt(later, "2001-01-01 00:00:00")
          yield* Effect.sleep("200 millis")
          expect(yield* countSessions(later)).toBe(1)
          yield* store.clearSession(later)
          yield* store.clearSession(live)
        }).pipe(TestServices.provideLive))

      it.effect("refuses a duration that is not positive", () =>
        Effect.gen(function*() {
          const store = yield* SessionStore
          const error = yield* Layer.build(
            SqlSessionStore.layerRetention({ idleFor: 0, every: "1 minute" }).pipe(
              Layer.provide(Layer.succeed(SessionStore, store))
            )
          ).pipe(
            Effect.scoped,
            Effect.flip
          )
          expect(error.argument).toBe("idleFor")
        }))
    })
  })
}

/** The session ids of every page after `cursor`. */
const allPagesFrom = (owner: string, limit: number, cursor: string | undefined) =>
  Effect.gen(function*() {
    const store = yield* SessionStore
    const ids: Array<string> = []
    let next = cursor
    while (next !== undefined) {
      const page = yield* store.listSessions({ owner, limit, cursor: next })
      ids.push(...page.sessions.map((session) => session.sessionId))
      next = page.nextCursor
    }
    return ids
  })
