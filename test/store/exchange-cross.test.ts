/**
 * Export from one dialect, import into another: PostgreSQL → SQLite (through JSON Lines text) →
 * MariaDB (as records). Every hop gives the same items, byte for byte as stored, and the same
 * catalogue fields and dates, so the three exports are equal.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Context, Effect, Layer, Stream } from "effect"
import { type ExportRecord, type Item, SessionArchive, SessionStore, SqlSessionStore } from "../../src/index.js"
import { mysql, postgres, sqlite, type TestDatabase, uniqueId } from "../support/databases.js"

const storeOn = (db: TestDatabase) =>
  Layer.build(SqlSessionStore.layer({ createTables: true }).pipe(Layer.provide(db.layer))).pipe(
    Effect.map((context) => Context.get(context, SessionStore))
  )

const exportOf = (store: SessionStore["Type"], owner: string) =>
  Stream.runCollect(store.exportSessions({ owner })).pipe(Effect.map(Chunk.toReadonlyArray))

const hostile: ReadonlyArray<Item> = [
  { role: "user", content: "Grüße, 你好, مرحبا, 🐍🚀 and a \u2028 line separator" },
  { role: "assistant", content: "quotes \" ' ` and \\ backslashes \\\\ and NUL-free controls \u0001\t\n" },
  { type: "function_call", callId: "c1", name: "f", arguments: "{\"a\":[1,2,{\"b\":null}]}" },
  { type: "message", content: [{ type: "input_image", bytes: new Uint8Array([0, 1, 2, 254, 255]) }] },
  { role: "user", content: "numbers", values: [0, -1.5, 1e21, Number.NaN, -0, Number.POSITIVE_INFINITY] },
  { role: "user", content: "x".repeat(100_000) }
]

const unavailable = postgres.unavailable ?? mysql.unavailable
const run = unavailable === undefined ? describe : describe.skip

run("export and import across dialects", () => {
  it.effect("PostgreSQL → SQLite → MariaDB keeps identical histories and fields", () =>
    Effect.gen(function*() {
      const [pg, lite, maria] = yield* Effect.all([storeOn(postgres), storeOn(sqlite), storeOn(mysql)])
      const owner = uniqueId("cross")
      const ids = [`${owner}-a`, `${owner}-b`, `${owner}-c`]
      yield* pg.addItems(ids[0]!, hostile)
      yield* pg.updateSession(ids[0]!, {
        owner,
        title: "Ünïcødé title",
        metadata: { tags: ["x", "y"], nested: { n: 1.25, t: true, z: null } },
        expiresAt: new Date("2041-03-04T05:06:07.089Z")
      })
      yield* pg.updateSession(ids[1]!, { owner, title: null, metadata: {} })
      yield* pg.addItems(ids[2]!, Array.from({ length: 1234 }, (_, n) => ({ role: "user", content: `turn ${n}` })))
      yield* pg.updateSession(ids[2]!, { owner })

      const fromPg = yield* exportOf(pg, owner)
      expect(fromPg.filter((record) => record.type === "session").length).toBe(3)

      // PostgreSQL → SQLite, as JSON Lines text in arbitrary chunks.
      const text = Chunk.join(yield* Stream.runCollect(SessionArchive.toJsonLines(Stream.fromIterable(fromPg))), "")
      const chunks = Array.from({ length: Math.ceil(text.length / 4096) }, (_, n) => text.slice(n * 4096, n * 4096 + 4096))
      expect(
        yield* lite.importSessions(SessionArchive.fromJsonLines(Stream.fromIterable(chunks)), { onConflict: "fail" })
      ).toEqual({ sessions: 3, skipped: 0, items: hostile.length + 1234 })
      const fromSqlite = yield* exportOf(lite, owner)

      // SQLite → MariaDB, as records.
      yield* maria.importSessions(Stream.fromIterable<ExportRecord>(fromSqlite), { onConflict: "fail" })
      const fromMaria = yield* exportOf(maria, owner)

      expect(fromSqlite).toEqual(fromPg)
      expect(fromMaria).toEqual(fromPg)
      for (const store of [lite, maria]) {
        expect(yield* store.getItems(ids[0]!)).toEqual(yield* pg.getItems(ids[0]!))
        expect((yield* store.listSessions({ owner })).sessions).toEqual((yield* pg.listSessions({ owner })).sessions)
      }
      for (const store of [pg, maria]) yield* store.deleteSessions({ owner })
    }).pipe(Effect.scoped), 120_000)
})
