/**
 * Upgrading tables made by 0.1.0 in place: the catalogue needs the upgrade and says so, the
 * upgrade (migrate, the migrations record, createTables) is idempotent and safe from several
 * migrators at once, and keeps every stored item.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { SqlSessionStore } from "../../src/index.js"
import { makeStatements } from "../../src/internal/statements.js"
import { all, uniqueId, uniqueTable } from "../support/databases.js"

const indexNamesOf = (sql: SqlClient.SqlClient, dialect: string, table: string) =>
  (dialect === "pg"
    ? sql<{ name: string }>`SELECT indexname AS name FROM pg_indexes WHERE tablename = ${table}`
    : dialect === "mysql"
    ? sql<{ name: string }>`SELECT DISTINCT index_name AS name FROM information_schema.statistics
        WHERE table_schema = DATABASE() AND table_name = ${table}`
    : sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ${table}`).pipe(
      Effect.map((rows) => rows.map((row) => row.name).sort())
    )

for (const db of all) {
  const run = db.unavailable === undefined ? describe : describe.skip
  run(`upgrading 0.1.0 tables on ${db.label}`, () => {
    it.effect("needs the upgrade, and the upgrade is idempotent, concurrent-safe and keeps the items", () =>
      Effect.gen(function*() {
        const sql = (yield* SqlClient.SqlClient).withoutTransforms()
        const tables = {
          sessionsTable: uniqueTable("up_sessions"),
          messagesTable: uniqueTable("up_messages"),
          operationsTable: uniqueTable("up_ops")
        }
        // The tables exactly as 0.1.0 made them.
        yield* makeStatements(sql, {
          sessions: tables.sessionsTable,
          messages: tables.messagesTable,
          operations: tables.operationsTable
        }).createTables
        const old = yield* SqlSessionStore.make(tables)
        const id = uniqueId()
        yield* old.addItems(id, [{ role: "user", content: "before" }])

        // The catalogue refuses with a typed error that says what to do.
        const error = yield* Effect.flip(old.getSession(id))
        expect(error._tag).toBe("SessionStoreError")
        expect(error.message).toContain("SqlSessionStore.migrate")
        // The hot path does not need the new columns.
        yield* old.addItems(id, [{ role: "user", content: "still fine" }])

        // Several migrators at once, then again, then through the migrations record.
        yield* Effect.all(Array.from({ length: 4 }, () => SqlSessionStore.migrate(tables)), { concurrency: "unbounded" })
        yield* SqlSessionStore.migrate(tables)
        for (const migration of Object.values(SqlSessionStore.migrations(tables))) yield* migration
        yield* SqlSessionStore.make({ ...tables, createTables: true })

        // The store built before the upgrade sees it without a restart.
        expect(Option.getOrThrow(yield* old.getSession(id)).itemCount).toBe(2)
        const store = yield* SqlSessionStore.make(tables)
        expect(Option.getOrThrow(yield* store.getSession(id))).toMatchObject({
          owner: null,
          title: null,
          metadata: {},
          expiresAt: null,
          itemCount: 2
        })
        expect((yield* store.getItems(id)).map((item) => item.content)).toEqual(["before", "still fine"])
        yield* store.updateSession(id, { owner: "o", title: "t", metadata: { a: 1 } })
        expect((yield* store.listSessions({ owner: "o" })).sessions.map((session) => session.title)).toEqual(["t"])

        const indexes = yield* indexNamesOf(sql, db.dialect, tables.sessionsTable)
        for (const suffix of ["owner_idx", "updated_idx", "expires_idx"]) {
          expect(indexes).toContain(`${tables.sessionsTable}_${suffix}`)
        }
        for (const table of [tables.operationsTable, tables.messagesTable, tables.sessionsTable]) {
          yield* sql`DROP TABLE ${sql(table)}`
        }
      }).pipe(Effect.provide(db.layer)), 120_000)
  })
}
